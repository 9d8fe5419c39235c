using Moe.Model.Devices;
using Moe.Model.Routing;
using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Balancing;

/// <summary>
/// A trainer's summary of one layer's batch for cluster-wide balancing (docs/design.md): per expert, integer
/// counts of s[i,j] - p[i] over the bins of a <see cref="ReadoutWindow"/>. Counts add, so the sum over trainers that
/// binned with the same window is the same whichever way the tokens were split (p[i] depends on token i alone), and
/// so is the q read from it.
/// </summary>
public sealed class ExpertHistogram
{
    private readonly long[] _counts; // [experts, bins], expert-major

    // Per expert, the span of interior bins (not the two edge cells) that may be non-zero: read-outs and clearing
    // skip the empty rest (a batch fills a few hundred of 1,000 bins, and a balancer does both once per step). The
    // edge cells are outside it: a read-out window leaves most values in its lower edge cell.
    private readonly int[] _lowest;
    private readonly int[] _highest;

    public ExpertHistogram(ReadoutWindow window)
    {
        Window = window;
        _counts = new long[window.Experts * window.Bins];
        _lowest = new int[window.Experts];
        _highest = new int[window.Experts];
        ResetSpans();
    }

    public ExpertHistogram(int experts, HistogramRange range)
        : this(ReadoutWindow.Fixed(range, experts))
    {
    }

    public ReadoutWindow Window { get; private set; }

    public int Experts => Window.Experts;

    public int Bins => Window.Bins;

    /// <summary>Tokens summarised (each token adds one count to every expert's histogram).</summary>
    public long Tokens { get; private set; }

    public ReadOnlySpan<long> Counts => _counts;

    public ReadOnlySpan<long> CountsOf(int expert) => _counts.AsSpan(expert * Bins, Bins);

    /// <summary>Builds the summary of a batch on any device: bins are counted there, only counts come back.</summary>
    public static ExpertHistogram Build(Tensor scores, Tensor tokenPrices, ReadoutWindow window)
    {
        RoutingGuards.Scores(scores, (int)scores.shape[1]);
        using var counts = CountOnDevice(scores, tokenPrices, window);
        return FromCounts(window, HostReads.ToArray<int>(counts), scores.shape[0]);
    }

    public static ExpertHistogram Build(Tensor scores, Tensor tokenPrices, HistogramRange range) =>
        Build(scores, tokenPrices, ReadoutWindow.Fixed(range, (int)scores.shape[1]));

    /// <summary>
    /// The counts of a batch's histogram, [experts x bins] int32 on the scores' device, so that a step can copy
    /// every layer's at once (see <see cref="FromCounts"/>).
    /// </summary>
    public static Tensor CountOnDevice(Tensor scores, Tensor tokenPrices, ReadoutWindow window)
    {
        var experts = (int)scores.shape[1];
        if (tokenPrices.dim() != 1 || tokenPrices.shape[0] != scores.shape[0])
            throw new ArgumentException(
                $"Token prices must have one entry per token ({scores.shape[0]}), got shape [{string.Join(", ", tokenPrices.shape)}].",
                nameof(tokenPrices));
        if (window.Experts != experts)
            throw new ArgumentException($"The window has {window.Experts} experts but the scores have {experts}.", nameof(window));
        using var scope = NewDisposeScope();
        using var no = no_grad();
        using var first = 0.ToScalar(); // held Scalars: see KeptScalars
        using var last = (window.Bins - 1).ToScalar();
        using var binsPerExpert = window.Bins.ToScalar();
        var low = tensor(window.Low.ToArray(), device: scores.device).unsqueeze(0);
        var width = tensor(Enumerable.Range(0, experts).Select(window.Width).ToArray(), device: scores.device).unsqueeze(0);
        var shifted = scores.detach().to(ScalarType.Float32) - tokenPrices.detach().to(ScalarType.Float32).unsqueeze(1);
        var bins = ((shifted - low) / width).floor().clamp(first, last).to(ScalarType.Int64);
        var cells = bins.Plus((KeptScalars.Indices(experts, scores.device) * binsPerExpert).unsqueeze(0)).flatten();
        var counts = zeros(experts * window.Bins, dtype: ScalarType.Int32, device: scores.device);
        return counts.scatter_add_(0, cells, ones_like(cells, dtype: ScalarType.Int32)).MoveToOuterDisposeScope();
    }

    /// <summary>A histogram of <paramref name="tokens"/> tokens from its dense counts (expert-major, as <see cref="CountOnDevice"/> makes them).</summary>
    public static ExpertHistogram FromCounts(ReadoutWindow window, ReadOnlySpan<int> counts, long tokens)
    {
        var histogram = new ExpertHistogram(window);
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
    public static void ValidateSparse(int experts, int bins, long tokens, SparseCounts counts)
    {
        if (counts.Indices.Length != counts.Counts.Length)
            throw new ArgumentException(
                $"Sparse counts have {counts.Indices.Length} indices but {counts.Counts.Length} counts.", nameof(counts));
        var cells = experts * bins;
        Span<long> sums = stackalloc long[experts];
        var previous = -1;
        var expert = 0;
        var expertEnd = bins; // indices are sorted: walk the experts along with them, no division per cell
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
                expertEnd += bins;
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
            while (index >= expertStart + Bins)
            {
                expert++;
                expertStart += Bins;
            }
            Widen(expert, index - expertStart);
        }
        Tokens += tokens;
    }

    /// <summary>
    /// Adds a histogram binned with another window of the same layer, each bin's counts at the bin's middle: not
    /// exact, but every token is kept (a balancer does this for a trainer that binned a step with an older window).
    /// </summary>
    public void AddRebinned(ExpertHistogram other)
    {
        if (other.Experts != Experts)
            throw new ArgumentException($"Cannot add a histogram of {other.Experts} experts to one of {Experts}.", nameof(other));
        for (var j = 0; j < Experts; j++)
        {
            var counts = other.CountsOf(j);
            for (var b = other.Bins - 1; b >= 0; b = other.Below(j, b))
            {
                if (counts[b] == 0)
                    continue;
                var bin = Window.BinOf(j, other.Window.MiddleOf(j, b));
                _counts[(j * Bins) + bin] += counts[b];
                Widen(j, bin);
            }
        }
        Tokens += other.Tokens;
    }

    /// <summary>Empties the histogram and bins with <paramref name="window"/> from now on (a balancer recycles them).</summary>
    public void Reset(ReadoutWindow window)
    {
        if (window.Experts != Experts || window.Bins != Bins)
            throw new ArgumentException($"A histogram of {Experts} x {Bins} cannot take a window of {window.Experts} x {window.Bins}.", nameof(window));
        for (var j = 0; j < Experts; j++)
        {
            if (_highest[j] >= _lowest[j])
                _counts.AsSpan((j * Bins) + _lowest[j], _highest[j] - _lowest[j] + 1).Clear();
            _counts[j * Bins] = 0;
            _counts[(j * Bins) + Bins - 1] = 0;
        }
        ResetSpans();
        Tokens = 0;
        Window = window;
    }

    private void ResetSpans()
    {
        Array.Fill(_lowest, Bins);
        Array.Fill(_highest, -1);
    }

    private void WidenSpans()
    {
        Array.Fill(_lowest, 1);
        Array.Fill(_highest, Bins - 2);
    }

    private void Widen(int expert, int bin)
    {
        if (bin == 0 || bin == Bins - 1)
            return;
        _lowest[expert] = Math.Min(_lowest[expert], bin);
        _highest[expert] = Math.Max(_highest[expert], bin);
    }

    // The next bin down from `bin` that may be non-zero: the upper edge cell, the interior span, then the lower edge cell.
    private int Below(int expert, int bin)
    {
        var next = Math.Min(bin - 1, _highest[expert]);
        return next >= _lowest[expert] && next > 0 ? next : bin > 0 ? 0 : -1;
    }

    /// <summary>Expert j's values strictly inside its window, not in an edge cell.</summary>
    public long InteriorCount(int expert)
    {
        long inside = 0;
        var counts = CountsOf(expert);
        for (var b = _lowest[expert]; b <= _highest[expert]; b++)
            inside += counts[b];
        return inside;
    }

    // The value at the given rank from the top (1 = largest) of expert j's distribution, interpolated linearly inside
    // its bin, and that bin; the window's low edge when the rank exceeds the count.
    private (float Value, int Bin) AtRankFromTop(int expert, long rank)
    {
        if (rank < 1)
            throw new ArgumentOutOfRangeException(nameof(rank), rank, "Rank must be at least 1.");
        var counts = CountsOf(expert);
        long above = 0;
        for (var b = Bins - 1; b >= 0; b = Below(expert, b))
        {
            var inBin = counts[b];
            if (above + inBin >= rank)
            {
                var position = rank - above; // 1..inBin, counted down from the bin's upper edge
                var width = Window.Width(expert);
                var top = Window.Low[expert] + ((b + 1) * width);
                return (top - (float)((position - 0.5) / inBin * width), b);
            }
            above += inBin;
        }
        return (Window.Low[expert], 0);
    }

    /// <summary>
    /// The global quantiles: per expert, the value at global rank C+1 with C = ceil(tokens K / m) (docs/design.md),
    /// exact to within one bin width unless it lies in an edge cell.
    /// </summary>
    public QuantileReadout ReadOut(int topK)
    {
        RoutingGuards.TopK(topK, Experts);
        if (Tokens == 0)
            throw new InvalidOperationException("The histogram is empty: no tokens were summarised.");
        var capacity = DualBalancing.Capacity(Tokens, Experts, topK);
        var values = new float[Experts];
        var inEdge = new bool[Experts];
        if (capacity >= Tokens)
            return new QuantileReadout(values, inEdge);
        for (var j = 0; j < Experts; j++)
        {
            var (value, bin) = AtRankFromTop(j, capacity + 1);
            (values[j], inEdge[j]) = (value, bin == 0 || bin == Bins - 1);
        }
        return new QuantileReadout(values, inEdge);
    }

    /// <summary>Global expert prices: the quantiles of <see cref="ReadOut"/>, clipped at 0 for BIP.</summary>
    public float[] ExpertPrices(int topK, bool clip) => ReadOut(topK).Prices(clip);
}
