using Moe.Model.Balancing;
using Moe.Model.Devices;
using Moe.Model.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Training.Rounds;

/// <summary>What one trainer's step tells one MoE layer's balancer.</summary>
/// <param name="Loads">Tokens routed to each expert.</param>
/// <param name="Histogram">Per expert, the histogram of s - p over the batch (see <see cref="ExpertHistogram"/>).</param>
public sealed record LayerSummary(long[] Loads, ExpertHistogram Histogram)
{
    /// <summary>
    /// Each layer's summary of a step: the histogram of s - p, with p the token prices at the q its router just
    /// solved, which the layer balancer merges across trainers to read the global q. The histograms are counted
    /// on the device and copied to the host together, in one read.
    /// </summary>
    /// <param name="windows">Per MoE layer, the window its balancer asked this step to be binned with.</param>
    /// <param name="clipPrices">Whether token prices are clipped at 0, as the balancers clip q (BIP).</param>
    public static LayerSummary[] Of(IReadOnlyList<LayerRouting> routing, IReadOnlyList<ReadoutWindow> windows, bool clipPrices)
    {
        if (routing.Count == 0)
            return [];
        using var scope = NewDisposeScope();
        using var zero = 0.0.ToScalar(); // held Scalar: see KeptScalars
        var counts = routing.Select((layer, k) =>
        {
            var prices = layer.Decision.TokenPrices
                ?? throw new InvalidOperationException($"MoE layer {k} routes without prices: use bip or qb.");
            return ExpertHistogram.CountOnDevice(layer.Scores, clipPrices ? prices.clamp_min(zero) : prices, windows[k]);
        }).ToArray();
        var host = HostReads.ToArray<int>(cat(counts));
        var cells = host.Length / routing.Count;
        return [.. routing.Select((layer, k) => new LayerSummary(layer.Loads, ExpertHistogram.FromCounts(
            windows[k], host.AsSpan(k * cells, cells), layer.Scores.shape[0])))];
    }
}
