namespace Moe.Model.Balancing;

/// <summary>
/// The agreed binning of s - p that every trainer of a job uses, so that their histograms can be summed.
/// Values outside [Low, High) are counted in the first or last bin: no token is ever lost from a summary.
/// </summary>
public sealed record HistogramRange
{
    public HistogramRange(float low, float high, int bins)
    {
        if (!float.IsFinite(low) || !float.IsFinite(high) || !(low < high))
            throw new ArgumentException(
                $"Histogram range must be finite with low < high, got [{low}, {high}).", nameof(low));
        if (bins < 2)
            throw new ArgumentException($"Histogram needs at least 2 bins, got {bins}.", nameof(bins));
        Low = low;
        High = high;
        Bins = bins;
    }

    /// <summary>
    /// s and p both lie in [0, 1] for softmax or sigmoid scores under BIP, so s - p lies in [-1, 1]; 1,000 bins
    /// is the resolution reported for Kimi K3's quantile balancing.
    /// </summary>
    public static HistogramRange Default { get; } = new(-1f, 1f, 1000);

    public float Low { get; }

    public float High { get; }

    public int Bins { get; }

    public float Width => (High - Low) / Bins;
}
