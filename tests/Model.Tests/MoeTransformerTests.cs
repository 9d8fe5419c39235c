using Moe.Model.Devices;
using Moe.Model.Network;
using Moe.Model.Routing;
using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

public class MoeTransformerTests
{
    internal static readonly MoeModelConfig Tiny = new()
    {
        VocabSize = 64,
        ContextLength = 16,
        Dim = 32,
        Layers = 2,
        Heads = 4,
        Experts = 4,
        TopK = 2,
        ExpertHidden = 32,
        DenseHidden = 64,
    };

    [Fact]
    public void Forward_gives_logits_for_every_position()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        using var model = new MoeTransformer(Tiny with { DenseLayers = 1, SharedExpert = true });
        var logits = model.forward(randint(0, 64, [3, 16]));
        Assert.Equal([3L, 16, 64], logits.shape);
        Assert.Single(model.MoeLayers);
        Assert.Contains("context", Assert.Throws<ArgumentException>(() => model.forward(randint(0, 64, [1, 17]))).Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Grouped_dispatch_equals_routing_every_token_by_hand()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        using var layer = new MoeFeedForward(Tiny with { Router = RouterKind.TopK });
        var x = randn(2, 5, 32);

        var (routed, routing) = layer.forward(x);
        var output = routed.reshape(-1, 32);

        var tokens = x.reshape(-1, 32);
        var experts = TestScores.ToLongs(routing.Decision.Experts);
        var weights = TestScores.ToArray(routing.Decision.Weights);
        for (var i = 0; i < 10; i++)
        {
            var expected = zeros(32);
            for (var k = 0; k < 2; k++)
                expected = expected.Plus(layer.Expert((int)experts[(i * 2) + k]).forward(tokens[i].unsqueeze(0))[0].Times(weights[(i * 2) + k]));
            Assert.True(output[i].allclose(expected, rtol: 1e-5, atol: 1e-6), $"token {i}");
        }
    }

    [Fact]
    public void With_a_capacity_each_expert_takes_its_first_slots_in_token_order_and_the_rest_add_nothing()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var layer = new MoeFeedForward(Tiny with { Router = RouterKind.TopK, CapacityFactor = 0.75 });
        var x = randn(2, 8, 32);

        var (routed, routing) = layer.forward(x);
        var output = routed.reshape(-1, 32);

        var tokens = x.reshape(-1, 32);
        var experts = TestScores.ToLongs(routing.Decision.Experts);
        var weights = TestScores.ToArray(routing.Decision.Weights);
        var capacity = (long)Math.Ceiling(0.75 * 16 * 2 / 4);
        var taken = new long[4];
        var expected = zeros(16, 32);
        for (var slot = 0; slot < 32; slot++) // slots in token order, as the stable sort keeps them
        {
            var expert = (int)experts[slot];
            if (taken[expert]++ < capacity)
                expected[slot / 2].PlusInPlace(layer.Expert(expert).forward(tokens[slot / 2].unsqueeze(0))[0].Times(weights[slot]));
        }
        Assert.True(routing.Dropped > 0, "the capacity must turn some slots away");
        Assert.True(output.allclose(expected, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Capacity_limit_drops_and_counts_the_overflow()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var layer = new MoeFeedForward(Tiny with { Router = RouterKind.TopK, CapacityFactor = 0.5 });
        var (_, routing) = layer.forward(randn(4, 16, 32));

        var capacity = (long)Math.Ceiling(0.5 * 64 * 2 / 4);
        var loads = TestScores.ToLongs(routing.Decision.Loads);
        Assert.Equal(loads, routing.Loads);
        Assert.Equal(loads.Sum(l => Math.Max(0, l - capacity)), routing.Dropped);
        Assert.True(routing.Dropped >= 64, "half the capacity must turn away at least half the slots");
    }

    [Theory]
    [MemberData(nameof(RouterTests.AllKinds), MemberType = typeof(RouterTests))]
    public void Every_router_trains_the_tiny_model_and_its_loss_drops(RouterKind router)
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        using var model = new MoeTransformer(Tiny with { Router = router, AuxLossAlpha = 0.01f });
        using var optimizer = new Training.AdamW(model.parameters(), lr: 3e-3, beta1: 0.9, beta2: 0.999, weightDecay: 0);
        // A fixed batch of periodic sequences: easy to learn, so 40 steps must cut the loss.
        using var period = 7.ToScalar();
        var sequence = KeptScalars.Indices(17, CPU).remainder(period).unsqueeze(0).repeat(4, 1).Plus(randint(0, 5, [4, 1]));
        var inputs = sequence.narrow(1, 0, 16);
        var targets = sequence.narrow(1, 1, 16);

        float first = 0, last = 0;
        for (var step = 0; step < 40; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            var (total, lm, routing) = model.Loss(inputs, targets);
            total.backward();
            foreach (var parameter in model.parameters())
                Assert.True(parameter.grad is null || parameter.grad.isfinite().all().item<bool>());
            optimizer.step();
            model.AfterStep(routing);
            if (step == 0)
                first = lm.item<float>();
            last = lm.item<float>();
        }
        Assert.True(last < first * 0.5, $"{router}: loss went from {first:F3} to {last:F3}");
    }

    [Fact]
    public void Bad_configurations_are_named()
    {
        Assert.Contains("heads", Assert.Throws<ArgumentException>(() => (Tiny with { Heads = 5 }).Validate()).Message);
        Assert.Contains("DenseLayers", Assert.Throws<ArgumentException>(() => (Tiny with { DenseLayers = 3 }).Validate()).Message);
        Assert.Contains("CapacityFactor", Assert.Throws<ArgumentException>(() => (Tiny with { CapacityFactor = -1 }).Validate()).Message);
        Assert.Contains("top-K", Assert.Throws<ArgumentException>(() => (Tiny with { TopK = 5 }).Validate()).Message);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.75)]
    public void One_pass_over_the_experts_gives_the_per_expert_loops_outputs_and_gradients(double capacityFactor)
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        using var layer = new MoeFeedForward(Tiny with { Router = RouterKind.Bip, CapacityFactor = capacityFactor, CpuFastPath = false });
        var x = randn(2, 8, 32);

        (Tensor Output, Tensor[] Gradients) Run(ExpertPass pass)
        {
            layer.Pass = pass;
            layer.zero_grad();
            var state = layer.Router.State!.clone();
            var (output, _) = layer.forward(x);
            layer.Router.LoadState(state); // the same q for both passes
            output.square().sum().backward();
            return (output.detach(), [.. layer.parameters().Select(p => p.grad!.clone())]);
        }

        var (onePass, onePassGradients) = Run(ExpertPasses.OnePass);
        var (copies, copiesGradients) = Run(ExpertPasses.PerExpertCopies);

        Assert.True(onePass.allclose(copies, rtol: 1e-5, atol: 1e-6));
        foreach (var (a, b) in onePassGradients.Zip(copiesGradients))
            Assert.True(a.allclose(b, rtol: 1e-5, atol: 1e-6));
    }
}
