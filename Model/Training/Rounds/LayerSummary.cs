using Moe.Model.Balancing;
using Moe.Model.Network;

namespace Moe.Model.Training.Rounds;

/// <summary>What one trainer's step tells one MoE layer's balancer.</summary>
/// <param name="Loads">Tokens routed to each expert.</param>
/// <param name="Histogram">Per expert, the histogram of s - p over the batch (see <see cref="ExpertHistogram"/>).</param>
public sealed record LayerSummary(long[] Loads, ExpertHistogram Histogram)
{
    /// <summary>
    /// Each layer's summary of a step: the histogram of s - p, with p the token prices at the q its router just
    /// solved, which the layer balancer merges across trainers to read the global q.
    /// </summary>
    /// <param name="clipPrices">Whether token prices are clipped at 0, as the balancers clip q (BIP).</param>
    public static LayerSummary[] Of(IReadOnlyList<LayerRouting> routing, IReadOnlyList<MoeFeedForward> layers, HistogramRange range, bool clipPrices) =>
        [.. routing.Select((layer, k) =>
        {
            var router = layers[k].Router;
            var q = router.State ?? throw new InvalidOperationException($"MoE layer {k} routes without prices ({router.Kind}): use bip or qb.");
            var prices = DualBalancing.TokenPrices(layer.Scores.detach(), q.to(layer.Scores.device), router.Config.TopK, clipPrices);
            return new LayerSummary(layer.Loads, ExpertHistogram.Build(layer.Scores, prices, range));
        })];
}
