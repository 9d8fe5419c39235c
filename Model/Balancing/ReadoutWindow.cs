namespace Moe.Model.Balancing;

/// <summary>
/// Per expert, the interval of s - p that a step's histograms divide into <see cref="Bins"/> equal bins; values
/// below or above it are counted in the first or last bin (the edge cells). A balancer centres each expert's window
/// on the quantile it last read and sizes it to hold a few hundred ranks around it, so the bins are fine where the
/// next quantile lies (docs/design.md). Every trainer of a step bins with the same window, so their counts still
/// add exactly. <see cref="Step"/> names the commit the window came from; -1 is the job's fixed range.
/// </summary>
public sealed class ReadoutWindow
{
    /// <summary>Narrower windows would have bins near float32's resolution of s - p.</summary>
    public const float MinHalfWidth = 1e-4f;

    /// <summary>Sixteen times the default range: wide enough for any softmax or sigmoid score minus a price.</summary>
    public const float MaxHalfWidth = 16f;

    private readonly float[] _low;
    private readonly float[] _high;

    public ReadoutWindow(long step, float[] low, float[] high, int bins)
    {
        if (low.Length == 0 || low.Length != high.Length)
            throw new ArgumentException($"A window needs one low and one high edge per expert, got {low.Length} and {high.Length}.", nameof(low));
        if (bins < 2)
            throw new ArgumentException($"A window needs at least 2 bins, got {bins}.", nameof(bins));
        for (var j = 0; j < low.Length; j++)
        {
            if (!float.IsFinite(low[j]) || !float.IsFinite(high[j]) || !((high[j] - low[j]) / bins > 0f))
                throw new ArgumentException($"Expert {j}'s window [{low[j]}, {high[j]}) must be finite and wider than its {bins} bins can resolve.", nameof(low));
        }
        Step = step;
        _low = low;
        _high = high;
        Bins = bins;
    }

    /// <summary>The job's fixed range for every expert: what trainers bin with before any window was published.</summary>
    public static ReadoutWindow Fixed(HistogramRange range, int experts) =>
        new(-1, Enumerable.Repeat(range.Low, experts).ToArray(), Enumerable.Repeat(range.High, experts).ToArray(), range.Bins);

    public long Step { get; }

    public int Experts => _low.Length;

    public int Bins { get; }

    public ReadOnlySpan<float> Low => _low;

    public ReadOnlySpan<float> High => _high;

    public float Width(int expert) => (_high[expert] - _low[expert]) / Bins;

    public float HalfWidth(int expert) => (_high[expert] - _low[expert]) / 2;

    public int BinOf(int expert, float value) =>
        (int)Math.Clamp(MathF.Floor((value - _low[expert]) / Width(expert)), 0, Bins - 1);

    /// <summary>The value a bin stands for when its counts move to another window: its middle.</summary>
    public float MiddleOf(int expert, int bin) => _low[expert] + ((bin + 0.5f) * Width(expert));

    /// <summary>Same commit, same edges: summaries binned with either add exactly.</summary>
    public bool SameAs(ReadoutWindow other) =>
        Step == other.Step && Bins == other.Bins && _low.AsSpan().SequenceEqual(other._low) && _high.AsSpan().SequenceEqual(other._high);

    /// <summary>
    /// The window after a read-out at step <paramref name="step"/>: each expert's is centred on the quantile just read,
    /// and its half-width scaled (at most x2, or /16 from a window far too wide) towards holding
    /// <paramref name="capacity"/> / 2 values of the merged step between its edges, about a quarter capacity of ranks on
    /// either side of the quantile, but never less than three times the distance the quantile moved from this window's
    /// centre: q drifts while a model trains, and the window is used some steps later. A quantile that fell into an
    /// edge cell (the window lost it) widens it four times.
    /// </summary>
    public ReadoutWindow Next(long step, ExpertHistogram merged, QuantileReadout readout, long capacity)
    {
        var low = new float[Experts];
        var high = new float[Experts];
        var target = Math.Max(1.0, capacity / 2.0);
        for (var j = 0; j < Experts; j++)
        {
            var centre = readout.Values[j];
            var drift = 3 * Math.Abs(centre - ((_low[j] + _high[j]) / 2));
            var half = readout.InEdge[j]
                ? HalfWidth(j) * 4.0
                : Math.Max(drift, HalfWidth(j) * Math.Clamp(target / Math.Max(1, merged.InteriorCount(j)), 1.0 / 16, 2.0));
            var clamped = (float)Math.Clamp(half, MinHalfWidth, MaxHalfWidth);
            (low[j], high[j]) = (centre - clamped, centre + clamped);
        }
        return new ReadoutWindow(step, low, high, Bins);
    }
}
