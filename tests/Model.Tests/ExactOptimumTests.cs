using Moe.Model.Balancing;
using Moe.Model.Routing;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

/// <summary>BIP and QB against the exact optimum of the capacitated assignment (min-cost flow, OR-Tools).</summary>
public class ExactOptimumTests
{
    private const int Tokens = 256, Experts = 8, TopK = 2;

    public static TheoryData<double, ScoreFunction> Cases => new()
    {
        { 0.0, ScoreFunction.Softmax },
        { 4.0, ScoreFunction.Softmax },
        { 8.0, ScoreFunction.Sigmoid },
        { 12.0, ScoreFunction.Sigmoid },
    };

    private static RoutingDecision Route(RouterKind kind, Tensor scores, ScoreFunction function, int iterations) =>
        Routers.Create(kind, new RouterConfig(Experts, TopK, function, Iterations: iterations)).Route(scores);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Exact_optimum_is_balanced_and_dual_routers_come_within_3_percent_of_its_objective(
        double skew, ScoreFunction function)
    {
        using var scope = NewDisposeScope();
        for (var seed = 0; seed < 3; seed++)
        {
            var scores = TestScores.Make(Tokens, Experts, seed, skew, function);
            var optimum = ExactAssignment.Solve(TestScores.ToArray(scores), Tokens, Experts, TopK);
            Assert.Equal(Tokens * TopK, optimum.Loads.Sum());
            Assert.True(optimum.Loads.Max() <= DualBalancing.Capacity(Tokens, Experts, TopK));

            foreach (var kind in new[] { RouterKind.Bip, RouterKind.QuantileBalancing })
            {
                var decision = Route(kind, scores, function, iterations: 8);
                var ratio = BalanceMeasures.Objective(scores, decision.Experts) / optimum.Objective;
                Assert.InRange(ratio, 0.97, 1.03);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Dual_routers_take_exactly_K_distinct_experts_per_token(double skew, ScoreFunction function)
    {
        using var scope = NewDisposeScope();
        var scores = TestScores.Make(Tokens, Experts, seed: 11, skew, function);
        foreach (var kind in new[] { RouterKind.Bip, RouterKind.QuantileBalancing })
        {
            var experts = Route(kind, scores, function, 4).Experts.data<long>().ToArray();
            Assert.Equal(Tokens * TopK, experts.Length);
            for (var i = 0; i < Tokens; i++)
                Assert.Equal(TopK, experts.Skip(i * TopK).Take(TopK).Distinct().Count());
        }
    }

    [Theory]
    [InlineData(4.0, ScoreFunction.Softmax)]
    [InlineData(8.0, ScoreFunction.Sigmoid)]
    [InlineData(12.0, ScoreFunction.Sigmoid)]
    public void On_skewed_scores_max_violation_is_far_below_top_k(double skew, ScoreFunction function)
    {
        using var scope = NewDisposeScope();
        for (var seed = 0; seed < 3; seed++)
        {
            var scores = TestScores.Make(Tokens, Experts, seed, skew, function);
            var topK = BalanceMeasures.FromLoads(Route(RouterKind.TopK, scores, function, 1).Loads).MaxVio;
            Assert.True(topK > 1.5, $"the case is meant to be skewed; top-K MaxVio is only {topK:F3}");
            foreach (var kind in new[] { RouterKind.Bip, RouterKind.QuantileBalancing })
            {
                var maxVio = BalanceMeasures.FromLoads(Route(kind, scores, function, 8).Loads).MaxVio;
                Assert.True(maxVio <= 0.15 && maxVio <= topK / 10, $"{kind} seed {seed}: MaxVio {maxVio:F3} vs top-K {topK:F3}");
            }
        }
    }

    /// <summary>
    /// Averaged over seeds, MaxVio never grows with T. Single batches of 256 tokens can move by a token or two
    /// between T and 2T (one token is 1/64 of MaxVio here), so per seed we allow three tokens.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void More_iterations_do_not_make_max_violation_worse(double skew, ScoreFunction function)
    {
        using var scope = NewDisposeScope();
        int[] iterations = [1, 2, 4, 8, 16];
        var threeTokens = 3.0 / (Tokens * TopK / Experts);
        foreach (var kind in new[] { RouterKind.Bip, RouterKind.QuantileBalancing })
        {
            var average = new double[iterations.Length];
            for (var seed = 0; seed < 3; seed++)
            {
                var scores = TestScores.Make(Tokens, Experts, seed, skew, function);
                var perT = iterations.Select(t => BalanceMeasures.FromLoads(Route(kind, scores, function, t).Loads).MaxVio).ToArray();
                for (var k = 0; k < perT.Length; k++)
                {
                    average[k] += perT[k] / 3;
                    if (k > 0)
                        Assert.True(perT[k] <= perT[k - 1] + threeTokens, $"{kind} seed {seed}: T={iterations[k]} gave {perT[k]:F3} after {perT[k - 1]:F3}");
                }
            }
            for (var k = 1; k < average.Length; k++)
                Assert.True(average[k] <= average[k - 1] + 1e-9, $"{kind}: mean MaxVio rose from {average[k - 1]:F4} to {average[k]:F4} at T={iterations[k]}");
        }
    }

    [Fact]
    public void Quantile_balancing_serves_experts_that_bip_clipping_leaves_idle()
    {
        using var scope = NewDisposeScope();
        const int n = 512, m = 16;
        for (var seed = 0; seed < 3; seed++)
        {
            var scores = TestScores.Make(n, m, seed, skew: 16, ScoreFunction.Sigmoid);
            var config = new RouterConfig(m, TopK, ScoreFunction.Sigmoid, Iterations: 4);
            var bip = BalanceMeasures.FromLoads(new BipRouter(config).Route(scores).Loads);
            var qb = BalanceMeasures.FromLoads(new QuantileBalancingRouter(config).Route(scores).Loads);

            Assert.True(bip.DeadExperts >= 1, $"seed {seed}: BIP left no expert idle (min/mean {bip.MinOverMean:F3})");
            Assert.Equal(0, qb.DeadExperts);
            Assert.True(qb.MinOverMean >= 0.4, $"seed {seed}: QB min/mean {qb.MinOverMean:F3}");
            Assert.True(qb.MaxVio <= 0.3, $"seed {seed}: QB MaxVio {qb.MaxVio:F3}");
        }
    }
}
