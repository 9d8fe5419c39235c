using Moe.Actors.Training;
using Moe.Model.Routing;
using Moe.Model.Training.Rounds;
using static TorchSharp.torch;

namespace Moe.Actors.Tests.Training;

public sealed class RoundMathTests
{
    private static ParameterSet Params(params float[][] values) => new(values.Select((v, k) => new NamedTensor($"p{k}", tensor(v))));

    [Fact]
    public void With_lr_1_and_no_momentum_the_outer_step_averages_the_trainers_parameters()
    {
        var global = Params([1f, 2f], [3f]);
        // Trainer parameters after their inner steps: deltas are global minus local.
        var deltas = new List<IReadOnlyList<NamedTensor>> { Params([1f - 0.5f, 2f - 4f], [0f]), Params([1f - 1.5f, 2f - 0f], [3f - 6f]) };

        var (next, _) = OuterNesterov.Step(global, deltas, null, learningRate: 1, momentumFactor: 0);

        Assert.Equal([1f, 2f], next[0].Value.data<float>().ToArray()); // mean of 0.5 and 1.5; of 4 and 0
        Assert.Equal([4.5f], next[1].Value.data<float>().ToArray()); // mean of the local 3 and 6
    }

    [Fact]
    public void Nesterov_momentum_follows_v_mu_v_plus_g_and_theta_minus_lr_g_plus_mu_v()
    {
        var global = Params([10f]);
        var momentum = Params([2f]);
        var deltas = new List<IReadOnlyList<NamedTensor>> { Params([1f]), Params([3f]) }; // g = 2

        var (next, velocity) = OuterNesterov.Step(global, deltas, momentum, learningRate: 0.5, momentumFactor: 0.9);

        var v = (0.9f * 2f) + 2f; // 3.8
        Assert.Equal(v, velocity![0].Value.item<float>(), 5);
        Assert.Equal(10f - (0.5f * (2f + (0.9f * v))), next[0].Value.item<float>(), 5);
    }

    [Fact]
    public void Without_momentum_no_velocity_is_kept_and_the_first_momentum_step_starts_from_the_gradient()
    {
        var deltas = new List<IReadOnlyList<NamedTensor>> { Params([1f]), Params([3f]) }; // g = 2

        var (plain, none) = OuterNesterov.Step(Params([10f]), deltas, null, learningRate: 0.5, momentumFactor: 0);
        var (first, velocity) = OuterNesterov.Step(Params([10f]), deltas, null, learningRate: 0.5, momentumFactor: 0.9);

        Assert.Null(none);
        Assert.Equal(10f - (0.5f * 2f), plain[0].Value.item<float>(), 5);
        Assert.Equal(2f, velocity![0].Value.item<float>(), 5); // v = g
        Assert.Equal(10f - (0.5f * (2f + (0.9f * 2f))), first[0].Value.item<float>(), 5);
        Assert.Equal(1f, deltas[0][0].Value.item<float>()); // the inputs are left as they were
    }

    [Fact]
    public void A_delta_of_another_shape_is_refused_with_the_parameter_named()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            OuterNesterov.Step(Params([1f, 2f]), [Params([1f])], null, 0.7, 0.9));
        Assert.Contains("p0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Shards_tile_each_epoch_in_order_and_move_to_the_next_epoch()
    {
        var shards = new DataShards(sequences: 100, innerSteps: 3, batchSize: 4); // 12 per shard, 8 shards, 4 left over

        Assert.Equal(8, shards.ShardsPerEpoch);
        Assert.Equal([0L, 1, 2, 3], shards.Positions(0, 0));
        Assert.Equal([8L, 9, 10, 11], shards.Positions(0, 2));
        Assert.Equal([84L, 85, 86, 87], shards.Positions(7, 0));
        Assert.Equal([100L, 101, 102, 103], shards.Positions(8, 0)); // epoch 1 starts at position 100
        Assert.Equal(1, shards.EpochOf(8));
        Assert.Throws<ArgumentException>(() => new DataShards(sequences: 10, innerSteps: 3, batchSize: 4));
    }

    public static TheoryData<string, string> InvalidJobs => new()
    {
        { "bad/id", "Job id" },
        { "rounds", "Job:Rounds = 0" },
        { "quorum", "Job:Quorum = 0" },
        { "momentum", "Job:OuterMomentum = 1" },
        { "router", "cannot be balanced" },
        { "preset", "Unknown preset" },
        { "overlap", "Job:OverlapSteps = -1 is invalid: use 0 (rounds do not overlap) or more" },
    };

    [Theory]
    [MemberData(nameof(InvalidJobs))]
    public void An_invalid_job_is_refused_with_the_field_the_value_and_what_is_allowed(string problem, string message)
    {
        var good = new JobSpec { JobId = "ok", Preset = "tiny" };
        var bad = problem switch
        {
            "bad/id" => good with { JobId = "bad/id" },
            "rounds" => good with { Rounds = 0 },
            "quorum" => good with { Quorum = 0 },
            "momentum" => good with { OuterMomentum = 1 },
            "router" => good with { Router = RouterKind.TopK },
            "preset" => good with { Preset = "huge" },
            "overlap" => good with { OverlapSteps = -1 },
            _ => throw new ArgumentOutOfRangeException(nameof(problem)),
        };

        good.Validate();
        var error = Assert.Throws<ArgumentException>(bad.Validate);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }
}
