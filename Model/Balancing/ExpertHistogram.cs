using Moe.Model.Devices;
using Moe.Model.Routing;
using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Balancing;

/// <summary>
/// A trainer's summary of one layer's batch for cluster-wide balancing (docs/design.md): per expert, integer
/// counts of s[i,j] - p[i] over a fixed binning. Counts add, so the sum over trainers is the same whichever way
/// the tokens were split (p[i] depends on token i alone), and so is the q read from it.
/// </summary>
public sealed class ExpertHistogram
{
    private readonly long[] _counts; // [experts, bins], expert-major

    // Per expert, the span of bins that may be non-zero: read-outs and clearing skip the empty rest (a batch
    // fills a few hundred of 1,000 bins, and a balancer does both once per step).
    private readonly int[] _lowest;
    private readonly int[] _highest;

    public ExpertHistogram(int experts, HistogramRange range)
    {
        if (experts < 1)
            throw new ArgumentException($"Experts must be at least 1, got {experts}.", nameof(experts));
        Experts = experts;
        Range = range;
        _counts = new long[experts * range.Bins];
        _lowest = new int[experts];
        _highest = new int[experts];
        ResetSpans();
    }

    public int Experts { get; }

    public HistogramRange Range { get; }

    /// <summary>Tokens summarised (each token adds one count to every expert's histogram).</summary>
    public long Tokens { get; private set; }

    public ReadOnlySpan<long> Counts => _counts;

    public ReadOnlySpan<long> CountsOf(int expert) => _counts.AsSpan(expert * Range.Bins, Range.Bins);

    /// <summary>Builds the summary of a batch on any device: bins are counted there, only counts come back.</summary>
    public static ExpertHistogram Build(Tensor scores, Tensor tokenPrices, HistogramRange range)
    {
        RoutingGuards.Scores(scores, (int)scores.shape[1]);
        using var counts = CountOnDevice(scores, tokenPrices, range);
        return FromCounts((int)scores.shape[1], range, HostReads.ToArray<int>(counts), scores.shape[0]);
    }

    /// <summary>
    /// The counts of a batch's histogram, [experts x bins] int32 on the scores' device, so that a step can copy
    /// every layer's at once (see <see cref="FromCounts"/>).
    /// </summary>
    public static Tensor CountOnDevice(Tensor scores, Tensor tokenPrices, HistogramRange range)
    {
        var experts = (int)scores.shape[1];
        if (tokenPrices.dim() != 1 || tokenPrices.shape[0] != scores.shape[0])
            throw new ArgumentException(
                $"Token prices must have one entry per token ({scores.shape[0]}), got shape [{string.Join(", ", tokenPrices.shape)}].",
                nameof(tokenPrices));
        using var scope = NewDisposeScope();
        using var no = no_grad();
        using var low = range.Low.ToScalar(); // explicit Scalars: see RmsNorm
        using var width = range.Width.ToScalar();
        using var first = 0.ToScalar();
        using var last = (range.Bins - 1).ToScalar();
        using var binsPerExpert = range.Bins.ToScalar();
        var shifted = scores.detach().to(ScalarType.Float32) - tokenPrices.detach().to(ScalarType.Float32).unsqueeze(1);
        var bins = ((shifted - low) / width).floor().clamp(first, last).to(ScalarType.Int64);
        var cells = (bins + (arange(experts, device: scores.device) * binsPerExpert).unsqueeze(0)).flatten();
        var counts = zeros(experts * range.Bins, dtype: ScalarType.Int32, device: scores.device);
        return counts.scatter_add_(0, cells, ones_like(cells, dtype: ScalarType.Int32)).MoveToOuterDisposeScope();
    }

    /// <summary>A histogram of <paramref name="tokens"/> tokens from its dense counts (expert-major, as <see cref="CountOnDevice"/> makes them).</summary>
    public static ExpertHistogram FromCounts(int experts, HistogramRange range, ReadOnlySpan<int> counts, long tokens)
    {
        var histogram = new ExpertHistogram(experts, range);
        if (counts.Length != histogram._counts.Length)
            throw new ArgumentException($"Expected {histogram._counts.Length} counts (experts x bins), got {counts.Length}.", nameof(counts));
        for (var k = 0; k < counts.Length; k++)
            histogram._counts[k] = counts[k];
        histogram.WidenSpans();
        histogram.Tokens = tokens;
        return histogram;
    }

    /// <summary>The non-zero cells, for sending (see <see cref="SparseCounts"/>).</summary>
    public SparseCounts ToSparse()
    {
        var nonZero = 0;
        foreach (var c in _counts)
            nonZero += c != 0 ? 1 : 0;
        var indices = new int[nonZero];
        var counts = new long[nonZero];
        for (int k = 0, n = 0; k < _counts.Length; k++)
        {
            if (_counts[k] != 0)
                (indices[n], counts[n++]) = (k, _counts[k]);
        }
        return new SparseCounts(indices, counts);
    }

    /// <summary>
    /// Checks sparse counts received from elsewhere: as many indices as counts, indices strictly increasing and
    /// inside experts x bins, counts non-negative, and every expert's histogram counting exactly <paramref name="tokens"/>.
    /// </summary>
    public static void ValidateSparse(int experts, HistogramRange range, long tokens, SparseCounts counts)
    {
        if (counts.Indices.Length != counts.Counts.Length)
            throw new ArgumentException(
                $"Sparse counts have {counts.Indices.Length} indices but {counts.Counts.Length} counts.", nameof(counts));
        var cells = experts * range.Bins;
        Span<long> sums = stackalloc long[experts];
        var previous = -1;
        var expert = 0;
        var expertEnd = range.Bins; // indices are sorted: walk the experts along with them, no division per cell
        for (var k = 0; k < counts.Length; k++)
        {
            var index = counts.Indices[k];
            if (index <= previous || index >= cells)
                throw new ArgumentException(
                    $"Sparse index {index} at position {k} is out of order or outside 0..{cells - 1}.", nameof(counts));
            if (counts.Counts[k] < 0)
                throw new ArgumentException($"Counts must be non-negative; cell {index} has {counts.Counts[k]}.", nameof(counts));
            while (index >= expertEnd)
            {
                expert++;
                expertEnd += range.Bins;
            }
            sums[expert] += counts.Counts[k];
            previous = index;
        }
        for (var j = 0; j < experts; j++)
        {
            if (sums[j] != tokens)
                throw new ArgumentException(
                    $"Expert {j}'s histogram counts {sums[j]} tokens but the summary says {tokens}.", nameof(counts));
        }
    }

    /// <summary>
    /// Adds sparse counts that <see cref="ValidateSparse"/> already accepted for this layer and binning (a balancer
    /// validates before it touches any state, and should not pay for the check twice).
    /// </summary>
    public void AddValidated(SparseCounts counts, long tokens)
    {
        var expert = 0;
        var expertStart = 0;
        for (var k = 0; k < counts.Length; k++)
        {
            var index = counts.Indices[k];
            _counts[index] += counts.Counts[k];
            while (index >= expertStart + Range.Bins)
            {
                expert++;
                expertStart += Range.Bins;
            }
            var bin = index - expertStart;
            _lowest[expert] = Math.Min(_lowest[expert], bin);
            _highest[expert] = Math.Max(_highest[expert], bin);
        }
        Tokens += tokens;
    }

    /// <summary>Empties the histogram so that it can be reused (a balancer merges a step into a recycled one).</summary>
    public void Clear()
    {
        for (var j = 0; j < Experts; j++)
        {
            if (_highest[j] >= _lowest[j])
                _counts.AsSpan((j * Range.Bins) + _lowest[j], _highest[j] - _lowest[j] + 1).Clear();
        }
        ResetSpans();
        Tokens = 0;
    }

    private void ResetSpans()
    {
        Array.Fill(_lowest, Range.Bins);
        Array.Fill(_highest, -1);
    }

    private void WidenSpans()
    {
        Array.Fill(_lowest, 0);
        Array.Fill(_highest, Range.Bins - 1);
    }

    /// <summary>
    /// The share of all counts in each expert's first and last bin: values at or beyond the range's edges are clamped
    /// there, so a share well above what two bins of a smooth distribution hold says the range is too narrow (with
    /// QB's negative prices and sigmoid scores, s - p can exceed the default [-1, 1)).
    /// </summary>
    public double EdgeShare()
    {
        if (Tokens == 0)
            return 0;
        long edges = 0;
        for (var j = 0; j < Experts; j++)
        {
            var counts = CountsOf(j);
            edges += counts[0] + counts[^1];
        }
        return (double)edges / (Tokens * Experts);
    }

    /// <summary>
    /// The value at the given rank from the top (1 = largest) of expert j's distribution, interpolated linearly
    /// inside its bin; the low edge of the range when the rank exceeds the count.
    /// </summary>
    public float ValueAtRankFromTop(int expert, long rank)
    {
        if (rank < 1)
            throw new ArgumentOutOfRangeException(nameof(rank), rank, "Rank must be at least 1.");
        var counts = CountsOf(expert);
        long above = 0;
        for (var b = _highest[expert]; b >= 0; b--)
        {
            var inBin = counts[b];
            if (above + inBin >= rank)
            {
                var position = rank - above; // 1..inBin, counted down from the bin's upper edge
                var top = Range.Low + ((b + 1) * Range.Width);
                return top - (float)((position - 0.5) / inBin * Range.Width);
            }
            above += inBin;
        }
        return Range.Low;
    }

    /// <summary>
    /// Global expert prices: q[j] at global rank C+1 with C = ceil(tokens K / m) (docs/design.md), clipped
    /// at 0 for BIP; exact to within one bin width of the quantile of the whole batch.
    /// </summary>
    public float[] ExpertPrices(int topK, bool clip)
    {
        RoutingGuards.TopK(topK, Experts);
        if (Tokens == 0)
            throw new InvalidOperationException("The histogram is empty: no tokens were summarised.");
        var capacity = DualBalancing.Capacity(Tokens, Experts, topK);
        var q = new float[Experts];
        if (capacity >= Tokens)
            return q;
        for (var j = 0; j < Experts; j++)
        {
            var value = ValueAtRankFromTop(j, capacity + 1);
            q[j] = clip ? MathF.Max(0f, value) : value;
        }
        return q;
    }
}
