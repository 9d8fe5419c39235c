using Moe.Model.Balancing;
using Moe.Model.Network;
using Moe.Model.Parallelism;
using Moe.Model.Training;

namespace Moe.Model.Tests;

public class ExpertParallelRunTests
{
    private static readonly MoeModelConfig Model = new() { Experts = 4, TopK = 1 };

    private static StepMetrics Step(int step, params long[] loads) =>
        new(step, 1, 1e-3, 1, TimeSpan.FromSeconds(1), (int)loads.Sum(), [new LayerBalance(0, loads, BalanceMeasures.FromLoads(loads), 0)]);

    [Fact]
    public void Balanced_loads_cost_exactly_the_balanced_time_and_only_load_shares_matter()
    {
        var balanced = ExpertParallelRun.Of([Step(0, 10, 10, 10, 10)], Model, 2, PlacementKind.Contiguous, ExpertParallelSetup.H800);
        var skewed = ExpertParallelRun.Of([Step(0, 25, 5, 5, 5)], Model, 2, PlacementKind.Contiguous, ExpertParallelSetup.H800);
        var skewedTenfold = ExpertParallelRun.Of([Step(0, 250, 50, 50, 50)], Model, 2, PlacementKind.Contiguous, ExpertParallelSetup.H800);

        Assert.Equal(1.0, balanced.Mean, 12);
        Assert.True(skewed.Mean > 1.2, $"{skewed.Mean}");
        Assert.Equal(skewed.Mean, skewedTenfold.Mean, 12); // loads are scaled to the setup's tokens per rank
    }

    [Fact]
    public void A_capacity_factor_caps_what_each_expert_receives_and_computes()
    {
        // 40 copies over 4 experts: capacity 10 at cf 1, so 25,5,5,5 becomes 10,5,5,5 on two ranks of two experts, and
        // its most loaded rank holds 15 of the balanced 20 copies. At cf 2 the cap is 20, above every expert but one.
        StepMetrics[] steps = [Step(0, 25, 5, 5, 5)];
        var capped = ExpertParallelRun.Of(steps, Model with { CapacityFactor = 1 }, 2, PlacementKind.Contiguous, ExpertParallelSetup.H800);
        var expected = ExpertParallelRun.Of([Step(0, 10, 5, 5, 5)], Model, 2, PlacementKind.Contiguous, ExpertParallelSetup.H800);
        var looser = ExpertParallelRun.Of(steps, Model with { CapacityFactor = 2 }, 2, PlacementKind.Contiguous, ExpertParallelSetup.H800);
        var dropless = ExpertParallelRun.Of(steps, Model, 2, PlacementKind.Contiguous, ExpertParallelSetup.H800);

        Assert.True(capped.Mean < 1, $"{capped.Mean}"); // dropped copies are neither sent nor computed
        Assert.InRange(capped.Mean, 0.5, 1);
        Assert.True(capped.Mean < expected.Mean); // against balance of all 40 copies, not of the 25 kept
        Assert.InRange(looser.Mean, capped.Mean, dropless.Mean);
        Assert.True(looser.Mean < dropless.Mean);
    }

    [Fact]
    public void A_load_aware_placement_learnt_from_earlier_steps_pairs_hot_experts_with_cold_ones()
    {
        // Experts 0 and 1 are hot: contiguous placement puts both on rank 0; after the first 50 steps, the load-aware
        // one puts each with a cold expert.
        var steps = Enumerable.Range(0, 2 * ExpertParallelRun.ReplaceEvery).Select(t => Step(t, 30, 30, 10, 10)).ToList();

        var contiguous = ExpertParallelRun.Of(steps, Model, 2, PlacementKind.Contiguous, ExpertParallelSetup.H800);
        var loadAware = ExpertParallelRun.Of(steps, Model, 2, PlacementKind.LoadAware, ExpertParallelSetup.H800);

        Assert.Equal(contiguous.RelativeTime[0], loadAware.RelativeTime[0]); // the first block is placed contiguously
        Assert.Equal(1.0, loadAware.RelativeTime[^1], 12);
        Assert.True(contiguous.RelativeTime[^1] > 1.2);
    }

    [Fact]
    public void Random_routing_is_balanced_when_every_token_takes_every_expert_and_noisier_with_fewer_tokens()
    {
        Assert.Equal(0, RandomRouting.MeanMaxVio(100, 8, topK: 8, draws: 5));
        var few = RandomRouting.MeanMaxVio(1024, 16, 2, draws: 50);
        var many = RandomRouting.MeanMaxVio(16384, 16, 2, draws: 50);
        Assert.InRange(many, 0.2 * few, 0.4 * few); // noise falls as one over the square root of the tokens: a quarter
    }
}
