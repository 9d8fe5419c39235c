using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Routing;

/// <summary>The step every router ends with: top-K by some ranking, gate weights from the original scores.</summary>
internal static class TopKSelection
{
    /// <param name="scores">Original scores; gate weights (and their gradients) come from these.</param>
    /// <param name="ranking">What top-K is taken of (s - q, s + b, or s itself). Never differentiated.</param>
    public static RoutingDecision Route(Tensor scores, Tensor ranking, RouterConfig config, Tensor? auxLoss = null)
    {
        Tensor experts;
        using (no_grad())
        {
            var (_, indices) = ranking.topk(config.TopK, dim: 1);
            experts = indices;
        }
        var weights = scores.gather(1, experts);
        if (config.NormalizeTopK)
        {
            using var tiny = 1e-20.ToScalar(); // explicit and disposed: see RmsNorm on implicit Scalars
            weights = weights / weights.sum(1, keepdim: true).clamp_min(tiny);
        }
        var loads = experts.flatten().bincount(null, config.Experts);
        return new RoutingDecision(experts, weights, loads, auxLoss);
    }
}
