using static TorchSharp.torch;

namespace Moe.Model.Routing;

/// <summary>Plain top-K of the scores: the unbalanced baseline.</summary>
public sealed class TopKRouter : IRouter
{
    public TopKRouter(RouterConfig config)
    {
        config.Validate();
        Config = config;
    }

    public RouterKind Kind => RouterKind.TopK;

    public RouterConfig Config { get; }

    public Tensor? State => null;

    public RoutingDecision Route(Tensor scores)
    {
        RoutingGuards.Scores(scores, Config.Experts);
        return TopKSelection.Route(scores, scores.detach(), Config);
    }

    public void AfterStep(RoutingDecision decision)
    {
    }

    public void LoadState(Tensor state) =>
        throw new InvalidOperationException("The top-K router has no state to load.");
}
