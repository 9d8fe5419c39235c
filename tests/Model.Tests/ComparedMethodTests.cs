using Moe.Model.Network;
using Moe.Model.Routing;
using Moe.Model.Training;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

public class ComparedMethodTests
{
    [Theory]
    [InlineData("bip", "bip")]
    [InlineData("topk:cf=1.25", "topk:cf=1.25")]
    [InlineData("bip:clip=q", "bip:clip=q:solve=before")]
    [InlineData("qb:solve=after", "qb:clip=none:solve=after")]
    [InlineData("bip:cf=1:clip=none:solve=after", "bip:cf=1:clip=none:solve=after")]
    public void A_method_reads_from_its_name_and_writes_it_back(string text, string name) =>
        Assert.Equal(name, ComparedMethod.Parse(text).Name);

    [Fact]
    public void Bip_with_no_clipping_routes_as_quantile_balancing_and_with_both_as_itself()
    {
        using var scope = NewDisposeScope();
        var scores = TestScores.Make(512, 8, seed: 3, skew: 3);
        var config = new RouterConfig(8, 2);

        var unclipped = Routers.Create(RouterKind.Bip, config with { Variant = new DualVariant(PriceClipping.None) }).Route(scores);
        var qb = Routers.Create(RouterKind.QuantileBalancing, config).Route(scores);
        var both = Routers.Create(RouterKind.Bip, config with { Variant = new DualVariant(PriceClipping.Both) }).Route(scores);
        var bip = Routers.Create(RouterKind.Bip, config).Route(scores);

        Assert.Equal(TestScores.ToLongs(qb.Experts), TestScores.ToLongs(unclipped.Experts));
        Assert.Equal(TestScores.ToLongs(bip.Experts), TestScores.ToLongs(both.Experts));
    }

    [Fact]
    public void Solving_after_routing_routes_each_batch_with_the_q_of_the_batches_before()
    {
        using var scope = NewDisposeScope();
        var (first, second) = (TestScores.Make(512, 8, seed: 4, skew: 3), TestScores.Make(512, 8, seed: 5, skew: 3));
        var config = new RouterConfig(8, 2);
        var after = (DualPriceRouter)Routers.Create(RouterKind.Bip, config with { Variant = new DualVariant(PriceClipping.Both, SolveAfterRouting: true) });
        var before = (DualPriceRouter)Routers.Create(RouterKind.Bip, config);

        var routedFirst = after.Route(first);
        before.Route(first);
        var routedSecond = after.Route(second);
        var topK = Routers.Create(RouterKind.TopK, config).Route(first);

        Assert.Equal(TestScores.ToLongs(topK.Experts), TestScores.ToLongs(routedFirst.Experts)); // q = 0 before any batch
        var qAfterFirst = TestScores.ToArray(before.State!);
        var expected = TopKSelection.Route(second, second - tensor(qAfterFirst), config);
        Assert.Equal(TestScores.ToLongs(expected.Experts), TestScores.ToLongs(routedSecond.Experts)); // routed with the first batch's q
    }
}
