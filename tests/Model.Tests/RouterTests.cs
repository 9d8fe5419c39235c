using Moe.Model.Balancing;
using Moe.Model.Devices;
using Moe.Model.Routing;
using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

public class RouterTests
{
    public static TheoryData<RouterKind> AllKinds => [.. RouterKinds.All];

    [Theory]
    [MemberData(nameof(AllKinds))]
    public void Gate_weights_come_from_the_original_scores(RouterKind kind)
    {
        using var scope = NewDisposeScope();
        var scores = TestScores.Make(300, 8, seed: 2, skew: 4);
        foreach (var normalize in new[] { false, true })
        {
            var router = Routers.Create(kind, new RouterConfig(8, 3, NormalizeTopK: normalize));
            var decision = router.Route(scores);
            var chosen = scores.gather(1, decision.Experts);
            var expected = normalize ? chosen / chosen.sum(1, keepdim: true) : chosen;
            Assert.True(decision.Weights.allclose(expected, rtol: 1e-6, atol: 1e-7));
            Assert.Equal(300L * 3, decision.Loads.sum().to(ScalarType.Int64).item<long>());
        }
    }

    [Theory]
    [MemberData(nameof(AllKinds))]
    public void Equal_scores_spread_over_the_experts_the_same_way_every_time(RouterKind kind)
    {
        using var scope = NewDisposeScope();
        var scores = ones(256, 8).Times(0.125f); // a fresh or saturated gate: every expert scores the same

        var decision = Routers.Create(kind, new RouterConfig(8, 2)).Route(scores);
        var again = Routers.Create(kind, new RouterConfig(8, 2)).Route(scores);

        Assert.True(BalanceMeasures.FromLoads(decision.Loads).MaxVio <= 0.1, $"{kind}: loads {string.Join(" ", TestScores.ToLongs(decision.Loads))}");
        Assert.Equal(TestScores.ToLongs(decision.Experts), TestScores.ToLongs(again.Experts)); // the same batch routes the same way
        Assert.True(decision.Weights.allclose(ones(256, 2).Times(0.5f)), "ties change the order only, never the gate weights");
    }

    [Fact]
    public void Bip_warm_starts_q_across_steps_and_takes_it_back_from_a_checkpoint()
    {
        using var scope = NewDisposeScope();
        var config = new RouterConfig(16, 2, Iterations: 1);
        var router = new BipRouter(config);
        var first = TestScores.Make(2000, 16, seed: 1, skew: 5);
        var second = TestScores.Make(2000, 16, seed: 2, skew: 5);

        router.Route(first);
        var afterFirst = router.State!.clone();
        var warm = BalanceMeasures.FromLoads(router.Route(second).Loads).MaxVio;
        var cold = BalanceMeasures.FromLoads(new BipRouter(config).Route(second).Loads).MaxVio;
        Assert.True(warm < cold, $"warm-started MaxVio {warm:F3} should beat a cold start's {cold:F3} at T = 1");

        var restored = new BipRouter(config);
        restored.LoadState(afterFirst);
        Assert.Equal(TestScores.ToArray(afterFirst), TestScores.ToArray(restored.State!));
        var again = new BipRouter(config);
        again.LoadState(afterFirst);
        Assert.Equal(TestScores.ToLongs(again.Route(second).Experts), TestScores.ToLongs(restored.Route(second).Experts));
    }

    [Fact]
    public void Cpu_fast_path_and_tensor_path_route_identically()
    {
        using var scope = NewDisposeScope();
        var scores = TestScores.Make(5000, 32, seed: 9, skew: 6, ScoreFunction.Sigmoid);
        var fast = new BipRouter(new RouterConfig(32, 4, ScoreFunction.Sigmoid, CpuFastPath: true));
        var tensorPath = new BipRouter(new RouterConfig(32, 4, ScoreFunction.Sigmoid, CpuFastPath: false));
        for (var step = 0; step < 3; step++)
        {
            Assert.Equal(TestScores.ToLongs(tensorPath.Route(scores).Experts), TestScores.ToLongs(fast.Route(scores).Experts));
            Assert.Equal(TestScores.ToArray(tensorPath.State!), TestScores.ToArray(fast.State!));
        }
    }

    [Theory]
    [InlineData(RouterKind.Bip)]
    [InlineData(RouterKind.QuantileBalancing)]
    public void Dual_routers_take_the_token_prices_from_their_top_k_and_route_as_a_plain_top_k_would(RouterKind kind)
    {
        using var scope = NewDisposeScope();
        var scores = TestScores.Make(2048, 64, seed: 4, skew: 3);
        var router = Routers.Create(kind, new RouterConfig(64, 8, CpuFastPath: false));
        var decision = router.Route(scores);

        var ranking = scores - router.State!;
        Assert.Equal(TestScores.ToArray(DualBalancing.TokenPrices(scores, router.State!, 8, clip: false)), TestScores.ToArray(decision.TokenPrices!));
        var plain = TopKSelection.Route(scores, ranking, router.Config);
        Assert.Equal(TestScores.ToLongs(plain.Experts), TestScores.ToLongs(decision.Experts));
        Assert.Equal(TestScores.ToLongs(decision.Experts.flatten().bincount(null, 64)), TestScores.ToLongs(decision.Loads));
    }

    [Fact]
    public void Loss_free_bias_moves_towards_underloaded_experts_after_the_step_only()
    {
        using var scope = NewDisposeScope();
        var router = new LossFreeRouter(new RouterConfig(8, 2, BiasUpdateRate: 0.01f));
        var scores = TestScores.Make(400, 8, seed: 4, skew: 4);

        var decision = router.Route(scores);
        Assert.Equal(new float[8], TestScores.ToArray(router.State!)); // routing alone changes nothing
        router.AfterStep(decision);

        var loads = TestScores.ToLongs(decision.Loads);
        var bias = TestScores.ToArray(router.State!);
        var mean = loads.Average();
        for (var j = 0; j < 8; j++)
            Assert.Equal(0.01f * Math.Sign(mean - loads[j]), bias[j], 6);
    }

    [Fact]
    public void Loss_free_balances_over_many_steps()
    {
        using var scope = NewDisposeScope();
        var router = new LossFreeRouter(new RouterConfig(8, 2, BiasUpdateRate: 0.01f));
        var first = 0.0;
        var last = 0.0;
        for (var step = 0; step < 200; step++)
        {
            using var stepScope = NewDisposeScope();
            var decision = router.Route(TestScores.Make(256, 8, seed: step, skew: 3));
            var maxVio = BalanceMeasures.FromLoads(decision.Loads).MaxVio;
            if (step == 0)
                first = maxVio;
            if (step >= 190)
                last += maxVio / 10;
            router.AfterStep(decision);
        }
        Assert.True(last < first / 3, $"MaxVio went from {first:F3} to {last:F3}");
    }

    [Fact]
    public void Loss_controlled_aux_loss_matches_its_formula_and_has_a_gradient()
    {
        using var scope = NewDisposeScope();
        var logits = randn(200, 8).requires_grad_();
        var scores = Scoring.Scores(logits, ScoreFunction.Softmax);
        var router = new LossControlledRouter(new RouterConfig(8, 2, AuxLossAlpha: 0.1f));

        var decision = router.Route(scores);
        var f = TestScores.ToLongs(decision.Loads).Select(l => l / (200.0 * 2)).ToArray();
        var p = TestScores.ToArray(scores.detach().mean([0]));
        var expected = 0.1 * 8 * f.Zip(p, (a, b) => a * b).Sum();

        Assert.Equal(expected, decision.AuxLoss!.item<float>(), 5);
        decision.AuxLoss.backward();
        Assert.True(logits.grad!.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void Sigmoid_scores_and_softmax_scores_differ_as_expected()
    {
        using var scope = NewDisposeScope();
        var logits = randn(10, 4);
        Assert.True(Scoring.Scores(logits, ScoreFunction.Softmax).sum(1).allclose(ones(10)));
        Assert.True(Scoring.Scores(logits, ScoreFunction.Sigmoid).allclose(logits.sigmoid()));
    }

    [Theory]
    [MemberData(nameof(AllKinds))]
    public void Bad_input_is_rejected_with_a_reason(RouterKind kind)
    {
        using var scope = NewDisposeScope();
        Assert.Contains("top-K", Assert.Throws<ArgumentException>(() => Routers.Create(kind, new RouterConfig(4, 0))).Message);
        Assert.Contains("top-K", Assert.Throws<ArgumentException>(() => Routers.Create(kind, new RouterConfig(4, 5))).Message);
        Assert.Contains("Iterations", Assert.Throws<ArgumentException>(() => Routers.Create(kind, new RouterConfig(4, 2, Iterations: 0))).Message);

        var router = Routers.Create(kind, new RouterConfig(4, 2));
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => router.Route(zeros(0, 4))).Message);
        Assert.Contains("router has 4", Assert.Throws<ArgumentException>(() => router.Route(rand(5, 3))).Message);
        Assert.Contains("2-D", Assert.Throws<ArgumentException>(() => router.Route(rand(5))).Message);
        var nan = rand(5, 4);
        using var notANumber = float.NaN.ToScalar();
        nan[2, 1].fill_(notANumber);
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => router.Route(nan)).Message);
        if (router.State is not null)
        {
            Assert.Contains("one entry per expert", Assert.Throws<ArgumentException>(() => router.LoadState(zeros(3))).Message);
            Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => router.LoadState(full(4, notANumber))).Message);
        }
        else
        {
            Assert.Throws<InvalidOperationException>(() => router.LoadState(zeros(4)));
        }
    }

    [Fact]
    public void Router_names_parse_and_unknown_names_list_the_choices()
    {
        foreach (var kind in RouterKinds.All)
            Assert.Equal(kind, RouterKinds.Parse(kind.ShortName().ToUpperInvariant()));
        Assert.Contains("bip, qb", Assert.Throws<ArgumentException>(() => RouterKinds.Parse("bpi")).Message);
    }
}
