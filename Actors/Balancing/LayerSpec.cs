using Moe.Model.Balancing;

namespace Moe.Actors.Balancing;

/// <summary>
/// What a layer balancer must know about its layer, fixed for the life of a job: experts m, experts per token K,
/// the histogram binning every trainer agrees on, and whether q is clipped at 0 (BIP) or not (Quantile Balancing).
/// </summary>
public sealed record LayerSpec(int Experts, int TopK, HistogramRange Range, bool Clip)
{
    public static LayerSpec Create(int experts, int topK, HistogramRange range, bool clip)
    {
        if (experts < 1)
            throw new ArgumentException($"A layer needs at least one expert, got {experts}.", nameof(experts));
        Moe.Model.Routing.RoutingGuards.TopK(topK, experts);
        return new LayerSpec(experts, topK, range, clip);
    }

    public int HistogramLength => Experts * Range.Bins;
}
