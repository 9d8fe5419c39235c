using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Routing;

/// <summary>
/// Plain top-K plus the Switch/GShard auxiliary loss alpha * m * sum_j f[j] * P[j], where f[j] is the share of
/// routed slots on expert j (no gradient) and P[j] the mean score of expert j (differentiable).
/// </summary>
public sealed class LossControlledRouter(RouterConfig config) : StatelessRouter(config)
{
    public override RouterKind Kind => RouterKind.LossControlled;

    public override RoutingDecision Route(Tensor scores, bool checkFinite = true)
    {
        RoutingGuards.Scores(scores, Config.Experts, checkFinite);
        var decision = TopKSelection.Route(scores, scores.detach(), Config);
        using var slots = ((double)scores.shape[0] * Config.TopK).ToScalar(); // held Scalars: see KeptScalars
        using var scale = ((double)Config.AuxLossAlpha * Config.Experts).ToScalar();
        var share = decision.Loads.to(scores.dtype) / slots;
        var meanScore = scores.mean([0]);
        var aux = (share * meanScore).sum() * scale;
        return decision with { AuxLoss = aux };
    }
}
