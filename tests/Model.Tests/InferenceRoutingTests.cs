using Moe.Model.Network;
using Moe.Model.Routing;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

public class InferenceRoutingTests
{
    public static TheoryData<RouterKind> AllKinds => [.. RouterKinds.All];

    [Theory]
    [MemberData(nameof(AllKinds))]
    public void A_token_routes_the_same_whatever_else_is_in_the_batch_and_the_state_does_not_move(RouterKind kind)
    {
        using var scope = NewDisposeScope();
        var router = Routers.Create(kind, new RouterConfig(8, 2));
        if (router.State is not null)
            router.LoadState(linspace(-0.1, 0.1, 8));
        var before = router.State?.clone();
        var scores = TestScores.Make(64, 8, seed: 3, skew: 3);

        var whole = router.RouteForInference(scores);
        var alone = router.RouteForInference(scores.narrow(0, 17, 1));

        Assert.Equal(TestScores.ToLongs(whole.Experts)[(17 * 2)..(18 * 2)], TestScores.ToLongs(alone.Experts));
        Assert.Null(whole.AuxLoss);
        if (before is not null)
            Assert.True(router.State!.allclose(before, rtol: 0, atol: 0), "inference leaves q or the bias as it was");
    }

    [Fact]
    public void Dual_routers_rank_by_score_minus_q_and_exact_ties_go_to_the_lower_expert()
    {
        using var scope = NewDisposeScope();
        var router = Routers.Create(RouterKind.QuantileBalancing, new RouterConfig(4, 1));
        router.LoadState(tensor(new[] { 0f, 0.3f, -0.2f, -0.2f }));
        var scores = tensor(new[] { 0.4f, 0.5f, 0.05f, 0.05f, 0.2f, 0.2f, 0.3f, 0.3f }).view(2, 4);

        var decision = router.RouteForInference(scores);

        // Token 0: s - q = 0.4, 0.2, 0.25, 0.25 -> expert 0. Token 1: 0.2, -0.1, 0.5, 0.5 -> the tie goes to expert 2.
        Assert.Equal([0L, 2L], TestScores.ToLongs(decision.Experts));
    }

    [Fact]
    public void With_inference_routing_the_model_is_causal_and_drops_nothing()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var model = new MoeTransformer(MoeTransformerTests.Tiny with { CapacityFactor = 0.5, Router = RouterKind.Bip });
        model.MoeLayers[0].Router.LoadState(tensor(new[] { 0.05f, -0.02f, 0f, 0.01f }));
        model.eval();
        model.InferenceRouting = true;
        var tokens = randint(0, 64, [1, 12]);

        var (logits, routing) = model.Run(tokens);
        var prefix = model.forward(tokens.narrow(1, 0, 7));

        Assert.True(prefix.allclose(logits.narrow(1, 0, 7), rtol: 1e-5, atol: 1e-5), "earlier positions do not see later ones");
        Assert.All(routing, layer => Assert.Equal(0, layer.Dropped));
    }
}
