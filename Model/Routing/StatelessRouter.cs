using static TorchSharp.torch;

namespace Moe.Model.Routing;

/// <summary>Shared body of the routers that keep nothing between steps (Top-K and Loss-Controlled).</summary>
public abstract class StatelessRouter : IRouter
{
    protected StatelessRouter(RouterConfig config)
    {
        config.Validate();
        Config = config;
    }

    public abstract RouterKind Kind { get; }

    public RouterConfig Config { get; }

    public Tensor? State => null;

    public abstract RoutingDecision Route(Tensor scores, bool checkFinite = true);

    public RoutingDecision RouteForInference(Tensor scores) => TopKSelection.PerToken(scores, scores.detach(), Config);

    public void AfterStep(RoutingDecision decision)
    {
    }

    public void LoadState(Tensor state, bool checkFinite = true) =>
        throw new InvalidOperationException($"The {Kind.ShortName()} router has no state to load.");
}
