using System.Numerics;
using Moe.Model.Routing;
using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Balancing;

/// <summary>
/// A trainer's summary of one layer's batch for cluster-wide balancing (DESIGN.md section 3): per expert, integer
/// counts of s[i,j] - p[i] over a fixed binning. Counts add, so the sum over trainers is the same whichever way
/// the tokens were split (p[i] depends on token i alone), and so is the q read from it.
/// </summary>
public sealed class ExpertHistogram
{
    private readonly long[] _counts; // [experts, bins], expert-major

    public ExpertHistogram(int experts, HistogramRange range)
    {
        if (experts < 1)
            throw new ArgumentException($"Experts must be at least 1, got {experts}.", nameof(experts));
        Experts = experts;
        Range = range;
        _counts = new long[experts * range.Bins];
    }

    public int Experts { get; }

    public HistogramRange Range { get; }

    /// <summary>Tokens summarised (each token adds one count to every expert's histogram).</summary>
    public long Tokens { get; private set; }

    public ReadOnlySpan<long> Counts => _counts;

    public ReadOnlySpan<long> CountsOf(int expert) => _counts.AsSpan(expert * Range.Bins, Range.Bins);

    /// <summary>Builds the summary of a batch on any device: bins are computed there, only counts come back.</summary>
    public static ExpertHistogram Build(Tensor scores, Tensor tokenPrices, HistogramRange range)
    {
        var experts = (int)scores.shape[1];
        RoutingGuards.Scores(scores, experts);
        if (tokenPrices.dim() != 1 || tokenPrices.shape[0] != scores.shape[0])
            throw new ArgumentException(
                $"Token prices must have one entry per token ({scores.shape[0]}), got shape [{string.Join(", ", tokenPrices.shape)}].",
                nameof(tokenPrices));

        var histogram = new ExpertHistogram(experts, range);
        using (var scope = NewDisposeScope())
        {
            using var low = range.Low.ToScalar(); // explicit Scalars: see RmsNorm
            using var width = range.Width.ToScalar();
            using var first = 0.ToScalar();
            using var last = (range.Bins - 1).ToScalar();
            using var binsPerExpert = range.Bins.ToScalar();
            var shifted = scores.detach().to(ScalarType.Float32) - tokenPrices.detach().to(ScalarType.Float32).unsqueeze(1);
            var bins = ((shifted - low) / width).floor().clamp(first, last).to(ScalarType.Int64);
            var flat = bins + (arange(experts, device: scores.device) * binsPerExpert).unsqueeze(0);
            var counts = flat.flatten().bincount(null, experts * range.Bins).cpu();
            counts.data<long>().CopyTo(histogram._counts, 0, 0);
        }
        histogram.Tokens = scores.shape[0];
        return histogram;
    }

    /// <summary>Restores a summary received from elsewhere (e.g. a trainer's message), validating it.</summary>
    public static ExpertHistogram FromCounts(int experts, HistogramRange range, long tokens, ReadOnlySpan<long> counts)
    {
        var histogram = new ExpertHistogram(experts, range);
        histogram.Add(counts, tokens);
        return histogram;
    }

    /// <summary>
    /// Checks counts received from elsewhere: experts x bins entries, none negative, and every expert's histogram
    /// counting exactly <paramref name="tokens"/> tokens (each token adds one count per expert).
    /// </summary>
    public static void ValidateCounts(int experts, HistogramRange range, long tokens, ReadOnlySpan<long> counts)
    {
        if (counts.Length != experts * range.Bins)
            throw new ArgumentException(
                $"Expected {experts} x {range.Bins} = {experts * range.Bins} counts, got {counts.Length}.", nameof(counts));
        for (var j = 0; j < experts; j++)
        {
            var (sum, negative) = SumAndAnyNegative(counts.Slice(j * range.Bins, range.Bins));
            if (negative)
                throw new ArgumentException($"Counts must be non-negative; expert {j} has a negative count.", nameof(counts));
            if (sum != tokens)
                throw new ArgumentException(
                    $"Expert {j}'s histogram counts {sum} tokens but the summary says {tokens}.", nameof(counts));
        }
    }

    /// <summary>Adds another summary of the same layer and binning into this one.</summary>
    public void Add(ExpertHistogram other)
    {
        if (other.Experts != Experts || other.Range != Range)
            throw new ArgumentException(
                $"Cannot merge a histogram of {other.Experts} experts over {other.Range} into one of {Experts} over {Range}.",
                nameof(other));
        AddCounts(other._counts);
        Tokens += other.Tokens;
    }

    /// <summary>Validates raw counts of the same layer and binning (see <see cref="ValidateCounts"/>) and adds them.</summary>
    public void Add(ReadOnlySpan<long> counts, long tokens)
    {
        ValidateCounts(Experts, Range, tokens, counts);
        AddCounts(counts);
        Tokens += tokens;
    }

    // A balancer merges thousands of summaries per second, each experts x bins counts: keep these loops vectorised.
    private void AddCounts(ReadOnlySpan<long> counts)
    {
        var target = _counts.AsSpan();
        var k = 0;
        for (; k <= target.Length - Vector<long>.Count; k += Vector<long>.Count)
            (new Vector<long>(target[k..]) + new Vector<long>(counts[k..])).CopyTo(target[k..]);
        for (; k < target.Length; k++)
            target[k] += counts[k];
    }

    private static (long Sum, bool Negative) SumAndAnyNegative(ReadOnlySpan<long> counts)
    {
        var sum = Vector<long>.Zero;
        var negative = Vector<long>.Zero;
        var k = 0;
        for (; k <= counts.Length - Vector<long>.Count; k += Vector<long>.Count)
        {
            var v = new Vector<long>(counts[k..]);
            sum += v;
            negative |= Vector.LessThan(v, Vector<long>.Zero);
        }
        var total = Vector.Sum(sum);
        var anyNegative = negative != Vector<long>.Zero;
        for (; k < counts.Length; k++)
        {
            total += counts[k];
            anyNegative |= counts[k] < 0;
        }
        return (total, anyNegative);
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
        for (var b = Range.Bins - 1; b >= 0; b--)
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
    /// Global expert prices: q[j] at global rank C+1 with C = ceil(tokens K / m) (DESIGN.md section 3), clipped
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
