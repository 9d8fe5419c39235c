using System.Collections.Immutable;

namespace Moe.Actors.Training;

/// <summary>
/// Which data shards (see Model's DataShards: shard g is epoch g / shardsPerEpoch) are done, handed out, or
/// still to do. Shards of trainers that dropped out are handed out again before any new one, so within an epoch
/// no shard is skipped and none is trained twice. Immutable: the coordinator persists it with each round.
/// </summary>
public sealed record ShardPlan(long Next, ImmutableSortedSet<long> Returned)
{
    public static ShardPlan Start { get; } = new(0, []);

    /// <summary>Hands one shard to each of <paramref name="trainers"/> trainers: returned shards first, then new ones.</summary>
    public (ShardPlan Plan, long[] Shards) Assign(int trainers)
    {
        var shards = new long[trainers];
        var returned = Returned;
        var next = Next;
        for (var k = 0; k < trainers; k++)
        {
            if (returned.Count > 0)
            {
                shards[k] = returned.Min;
                returned = returned.Remove(returned.Min);
            }
            else
            {
                shards[k] = next++;
            }
        }
        return (new ShardPlan(next, returned), shards);
    }

    /// <summary>After a round: the shards of trainers that did not finish go back to be handed out again.</summary>
    public ShardPlan GiveBack(IEnumerable<long> unfinished) => this with { Returned = Returned.Union(unfinished) };
}
