using static TorchSharp.torch;

namespace Moe.Model.Routing;

/// <summary>
/// Plain top-K plus the Switch/GShard auxiliary loss alpha * m * sum_j f[j] * P[j], where f[j] is the share of
/// routed slots on expert j (no gradient) and P[j] the mean score of expert j (differentiable).
/// </summary>
public sealed class LossControlledRouter : IRouter
{
    public LossControlledRouter(RouterConfig config)
    {
        config.Validate();
        Config = config;
    }

    public RouterKind Kind => RouterKind.LossControlled;

    public RouterConfig Config { get; }

    public Tensor? State => null;

    public RoutingDecision Route(Tensor scores)
    {
        RoutingGuards.Scores(scores, Config.Experts);
        var decision = TopKSelection.Route(scores, scores.detach(), Config);
        var share = decision.Loads.to(scores.dtype) / (scores.shape[0] * Config.TopK);
        var meanScore = scores.mean([0]);
        var aux = (share * meanScore).sum() * (Config.AuxLossAlpha * Config.Experts);
        return decision with { AuxLoss = aux };
    }

    public void AfterStep(RoutingDecision decision)
    {
    }

    public void LoadState(Tensor state) =>
        throw new InvalidOperationException("The loss-controlled router has no state to load.");
}
