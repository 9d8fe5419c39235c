using static TorchSharp.torch;

namespace Moe.Model.Routing;

/// <summary>Plain top-K of the scores: the unbalanced baseline.</summary>
public sealed class TopKRouter(RouterConfig config) : StatelessRouter(config)
{
    public override RouterKind Kind => RouterKind.TopK;

    public override RoutingDecision Route(Tensor scores, bool checkFinite = true)
    {
        RoutingGuards.Scores(scores, Config.Experts, checkFinite);
        return TopKSelection.Route(scores, scores.detach(), Config);
    }
}
