using CsCheck;
using Moe.Actors.Training;

namespace Moe.Actors.Tests.Training;

public sealed class ShardPlanTests
{
    /// <summary>
    /// Any sequence of rounds with any number of trainers, any of whom may drop out (the round commits) or the
    /// whole round fails (nothing commits): every shard below the plan's cursor is completed exactly once or is
    /// waiting to be handed out again. So no shard is skipped and none is trained twice.
    /// </summary>
    [Fact]
    public void No_shard_is_skipped_or_trained_twice_whatever_trainers_drop_out()
    {
        var rounds =
            from trainers in Gen.Int[1, 6]
            from dropped in Gen.Bool.Array[trainers]
            from aborted in Gen.Int[0, 9]
            select (trainers, dropped, aborted: aborted == 0);
        rounds.Array[1, 40].Sample(history =>
        {
            var plan = ShardPlan.Start;
            var completed = new List<long>();
            foreach (var (trainers, dropped, aborted) in history)
            {
                var (assigned, shards) = plan.Assign(trainers);
                Assert.Equal(shards.Length, shards.Distinct().Count());
                if (aborted)
                    continue; // nothing persisted: the committed plan is unchanged
                completed.AddRange(shards.Where((_, k) => !dropped[k]));
                plan = assigned.GiveBack(shards.Where((_, k) => dropped[k]));
            }
            Assert.Equal(completed.Count, completed.Distinct().Count());
            var accounted = completed.Concat(plan.Returned).Order().ToList();
            Assert.Equal(Enumerable.Range(0, (int)plan.Next).Select(i => (long)i), accounted);
        }, iter: 2000);
    }

    [Fact]
    public void Returned_shards_are_handed_out_before_new_ones_lowest_first()
    {
        var (plan, first) = ShardPlan.Start.Assign(3);
        plan = plan.GiveBack([first[2], first[0]]);

        var (_, second) = plan.Assign(3);

        Assert.Equal([0L, 1L, 2L], first);
        Assert.Equal([0L, 2L, 3L], second);
    }
}
