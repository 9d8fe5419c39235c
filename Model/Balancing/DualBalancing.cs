using Moe.Model.Routing;
using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Balancing;

/// <summary>
/// The LP dual of the capacitated top-K assignment (docs/design.md), as tensor code that runs on whatever
/// device the scores live on. With <c>clip</c> it is BIP (inequality constraints, prices >= 0); without, it is
/// Quantile Balancing (equality constraints).
/// </summary>
public static class DualBalancing
{
    /// <summary>Per-expert capacity c = ceil(n K / m): the smallest integer capacity that fits every token.</summary>
    public static long Capacity(long tokens, int experts, int topK) => ((tokens * topK) + experts - 1) / experts;

    /// <summary>p[i] = (K+1)-th largest over j of (s[i,j] - q[j]), clipped at 0 when <paramref name="clip"/>.</summary>
    public static Tensor TokenPrices(Tensor scores, Tensor q, int topK, bool clip)
    {
        var experts = (int)scores.shape[1];
        if (topK >= experts)
            return zeros(scores.shape[0], dtype: scores.dtype, device: scores.device); // every expert is taken
        using var shifted = scores - q.unsqueeze(0);
        var p = KthLargestPerRow(shifted, topK + 1);
        return clip ? ClipAtZero(p) : p;
    }

    /// <summary>q[j] = (c+1)-th largest over i of (s[i,j] - p[i]), clipped at 0 when <paramref name="clip"/>.</summary>
    public static Tensor ExpertPrices(Tensor scores, Tensor p, long capacity, bool clip)
    {
        var tokens = scores.shape[0];
        if (capacity >= tokens)
            return zeros(scores.shape[1], dtype: scores.dtype, device: scores.device); // capacity never binds
        // Select along contiguous rows of the transposed matrix: one long row per expert, rather than a strided
        // column walk (or, on a GPU, one thread block per expert).
        using var difference = scores - p.unsqueeze(1);
        using var shifted = difference.t().contiguous();
        var q = KthLargestPerRow(shifted, capacity + 1);
        return clip ? ClipAtZero(q) : q;
    }

    /// <summary>
    /// The k-th largest of each row, by top-k of the smaller side: the k largest and their minimum, or the
    /// n - k + 1 smallest and their maximum. Exact, and top-k is the selection both CPUs and GPUs do well.
    /// </summary>
    internal static Tensor KthLargestPerRow(Tensor rows, long k)
    {
        var n = rows.shape[1];
        var fromTop = k <= n - k + 1;
        var (values, indexes) = rows.topk((int)(fromTop ? k : n - k + 1), dim: 1, largest: fromTop, sorted: false);
        indexes.Dispose();
        using (values)
            return fromTop ? values.amin(1) : values.amax(1);
    }

    private static Tensor ClipAtZero(Tensor prices)
    {
        using var zero = 0.0.ToScalar(); // held Scalar: see KeptScalars
        return prices.clamp_min_(zero);
    }

    /// <summary>
    /// Runs T dual coordinate iterations from the warm start <paramref name="q"/> and returns the new q.
    /// Inputs are not modified.
    /// </summary>
    public static Tensor Solve(Tensor scores, Tensor q, int topK, int iterations, bool clip) =>
        Solve(scores, q, topK, iterations, clip, clip);

    /// <summary>The same with the token prices p and the expert prices q clipped at 0 or not, each on its own.</summary>
    public static Tensor Solve(Tensor scores, Tensor q, int topK, int iterations, bool clipTokenPrices, bool clipExpertPrices)
    {
        var experts = (int)scores.shape[1];
        RoutingGuards.TopK(topK, experts);
        RoutingGuards.Iterations(iterations);
        RoutingGuards.Prices(q, experts, nameof(q));
        var capacity = Capacity(scores.shape[0], experts, topK);

        using var scope = NewDisposeScope();
        var current = q.to(scores.dtype, scores.device);
        for (var t = 0; t < iterations; t++)
        {
            var p = TokenPrices(scores, current, topK, clipTokenPrices);
            current = ExpertPrices(scores, p, capacity, clipExpertPrices);
        }
        return current.MoveToOuterDisposeScope();
    }
}
