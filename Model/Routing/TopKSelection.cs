using Moe.Model.Devices;
using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Routing;

/// <summary>
/// The step every router ends with: top-K by some ranking, gate weights from the original scores. Equal rankings
/// (a fresh or saturated gate gives them) are broken by a rotation per token: token i looks at the experts in the
/// order i, i + 1, ... (mod m), so ties spread over the experts instead of all going to the lowest indices. The
/// rotation orders only; it changes no value, and the same batch always routes the same way.
/// </summary>
internal static class TopKSelection
{
    /// <param name="scores">Original scores; gate weights (and their gradients) come from these.</param>
    /// <param name="ranking">What top-K is taken of (s - q, s + b, or s itself). Never differentiated.</param>
    /// <param name="withTokenPrices">
    /// Also return each token's (K+1)-th largest ranking (the token price at the q routed with), from the same
    /// top-k call: the dual routers' summaries need it.
    /// </param>
    public static RoutingDecision Route(Tensor scores, Tensor ranking, RouterConfig config, Tensor? auxLoss = null, bool withTokenPrices = false)
    {
        Tensor experts;
        Tensor? tokenPrices = null;
        using (no_grad())
        {
            var (tokens, m) = (ranking.shape[0], ranking.shape[1]);
            using var count = m.ToScalar(); // held Scalar: see KeptScalars
            var start = KeptScalars.Indices(tokens, ranking.device).remainder(count).unsqueeze(1);
            var order = KeptScalars.Indices(m, ranking.device).unsqueeze(0).Plus(start).remainder(count);
            var priced = withTokenPrices && config.TopK < m;
            var (values, positions) = ranking.gather(1, order).topk(priced ? config.TopK + 1 : config.TopK, dim: 1);
            if (priced)
            {
                tokenPrices = values.select(1, config.TopK);
                positions = positions.narrow(1, 0, config.TopK);
            }
            else if (withTokenPrices)
            {
                tokenPrices = zeros(tokens, dtype: ranking.dtype, device: ranking.device); // every expert is taken
            }
            experts = order.gather(1, positions);
        }
        return Decide(scores, experts, config, auxLoss, tokenPrices);
    }

    /// <summary>
    /// Top-K of <paramref name="ranking"/> for each token on its own, exact ties going to the lower expert: the
    /// choice of a token never depends on its row or on the other tokens of the batch (inference routing).
    /// </summary>
    public static RoutingDecision PerToken(Tensor scores, Tensor ranking, RouterConfig config)
    {
        Tensor experts;
        using (no_grad())
            experts = ranking.sort(dim: 1, descending: true, stable: true).Indices.narrow(1, 0, config.TopK);
        return Decide(scores, experts, config, auxLoss: null, tokenPrices: null);
    }

    private static RoutingDecision Decide(Tensor scores, Tensor experts, RouterConfig config, Tensor? auxLoss, Tensor? tokenPrices)
    {
        var weights = scores.gather(1, experts);
        if (config.NormalizeTopK)
        {
            using var tiny = 1e-20.ToScalar(); // held Scalar: see KeptScalars
            weights = weights / weights.sum(1, keepdim: true).clamp_min(tiny);
        }
        return new RoutingDecision(experts, weights, Loads(experts, config.Experts), auxLoss, tokenPrices);
    }

    /// <summary>
    /// Tokens per expert, counted on the device into int32: unlike bincount, a scatter needs no host read of the
    /// indices' range.
    /// </summary>
    private static Tensor Loads(Tensor experts, int count)
    {
        using (no_grad())
        {
            var flat = experts.flatten();
            using var ones = ones_like(flat, dtype: ScalarType.Int32);
            return zeros(count, dtype: ScalarType.Int32, device: experts.device).scatter_add_(0, flat, ones);
        }
    }
}
