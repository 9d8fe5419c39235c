using System.Buffers;
using System.Numerics;
using Moe.Model.Routing;

namespace Moe.Model.Balancing;

/// <summary>
/// The same dual iterations as <see cref="DualBalancing"/> on a row-major float32 matrix in memory, written for
/// the CPU: the matrix is transposed once per solve so that both order statistics read contiguous memory.
/// Token prices keep a running top-(K+1) per SIMD lane (one lane per token); expert prices find the (c+1)-th
/// largest by a sampled window, one vectorised pass, and a selection inside the window (Floyd-Rivest style),
/// falling back to a full selection when the window misses. Results are bit-identical to the tensor path.
/// </summary>
public static class DualBalancingCpu
{
    private const int SampleSize = 256;

    /// <summary>Runs T iterations in place on <paramref name="q"/> (the warm start on entry).</summary>
    public static void Solve(ReadOnlySpan<float> scores, int tokens, int experts, Span<float> q, int topK,
        int iterations, bool clip)
    {
        if (tokens <= 0)
            throw new ArgumentException("The batch is empty: scores have 0 tokens.", nameof(tokens));
        if (experts <= 0 || scores.Length != (long)tokens * experts)
            throw new ArgumentException(
                $"Scores hold {scores.Length} values, expected tokens x experts = {tokens} x {experts}.", nameof(scores));
        RoutingGuards.TopK(topK, experts);
        RoutingGuards.Iterations(iterations);
        RoutingGuards.Prices(q, experts, nameof(q));
        foreach (var v in scores)
        {
            if (!float.IsFinite(v))
                throw new ArgumentException("Scores contain NaN or infinite values.", nameof(scores));
        }

        var capacity = DualBalancing.Capacity(tokens, experts, topK);
        var transposed = ArrayPool<float>.Shared.Rent(tokens * experts);
        var p = ArrayPool<float>.Shared.Rent(tokens);
        var window = ArrayPool<float>.Shared.Rent(tokens);
        try
        {
            Transpose(scores, tokens, experts, transposed);
            for (var t = 0; t < iterations; t++)
            {
                TokenPrices(transposed, tokens, experts, q, topK, clip, p.AsSpan(0, tokens));
                for (var j = 0; j < experts; j++)
                {
                    var column = transposed.AsSpan(j * tokens, tokens);
                    q[j] = capacity >= tokens
                        ? 0f
                        : ExpertPrice(column, p.AsSpan(0, tokens), (int)capacity + 1, window.AsSpan(0, tokens), clip);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(window);
            ArrayPool<float>.Shared.Return(p);
            ArrayPool<float>.Shared.Return(transposed);
        }
    }

    private static void Transpose(ReadOnlySpan<float> source, int rows, int columns, Span<float> target)
    {
        for (var i = 0; i < rows; i++)
        {
            var row = source.Slice(i * columns, columns);
            for (var j = 0; j < columns; j++)
                target[(j * rows) + i] = row[j];
        }
    }

    /// <summary>p[i] = (K+1)-th largest of s[i,:] - q over experts; scores given expert-major.</summary>
    private static void TokenPrices(float[] transposed, int tokens, int experts, ReadOnlySpan<float> q, int topK,
        bool clip, Span<float> p)
    {
        if (topK >= experts)
        {
            p.Clear();
            return;
        }

        // The (K+1)-th largest is the (m-K)-th smallest; keep whichever of the two running sets is smaller.
        var keepLargest = topK + 1 <= experts - topK;
        var kept = keepLargest ? topK + 1 : experts - topK;
        var lanes = Vector<float>.Count;
        Span<Vector<float>> best = kept <= 64 ? stackalloc Vector<float>[kept] : new Vector<float>[kept];
        var fill = new Vector<float>(keepLargest ? float.NegativeInfinity : float.PositiveInfinity);

        var i = 0;
        for (; i + lanes <= tokens; i += lanes)
        {
            best.Fill(fill);
            for (var j = 0; j < experts; j++)
            {
                var v = new Vector<float>(transposed, (j * tokens) + i) - new Vector<float>(q[j]);
                if (keepLargest)
                {
                    for (var k = 0; k < kept; k++)
                    {
                        var b = best[k];
                        best[k] = Vector.Max(b, v);
                        v = Vector.Min(b, v);
                    }
                }
                else
                {
                    for (var k = 0; k < kept; k++)
                    {
                        var b = best[k];
                        best[k] = Vector.Min(b, v);
                        v = Vector.Max(b, v);
                    }
                }
            }
            var price = best[kept - 1];
            if (clip)
                price = Vector.Max(price, Vector<float>.Zero);
            price.CopyTo(p.Slice(i, lanes));
        }

        Span<float> row = experts <= 1024 ? stackalloc float[experts] : new float[experts];
        for (; i < tokens; i++)
        {
            for (var j = 0; j < experts; j++)
                row[j] = transposed[(j * tokens) + i] - q[j];
            var price = Selection.KthLargest(row, topK + 1);
            p[i] = clip ? MathF.Max(price, 0f) : price;
        }
    }

    /// <summary>The rank-th largest of column[i] - p[i], clipped at 0 when asked.</summary>
    private static float ExpertPrice(ReadOnlySpan<float> column, ReadOnlySpan<float> p, int rank, Span<float> window,
        bool clip)
    {
        var n = column.Length;
        var price = n <= 4 * SampleSize
            ? FullSelection(column, p, rank, window)
            : WindowedSelection(column, p, rank, window) ?? FullSelection(column, p, rank, window);
        return clip ? MathF.Max(price, 0f) : price;
    }

    private static float FullSelection(ReadOnlySpan<float> column, ReadOnlySpan<float> p, int rank, Span<float> buffer)
    {
        var values = buffer[..column.Length];
        for (var i = 0; i < column.Length; i++)
            values[i] = column[i] - p[i];
        return Selection.KthLargest(values, rank);
    }

    /// <summary>
    /// Estimates the rank's position from a strided sample, counts what lies above a window around it in one
    /// vectorised pass, and selects within the window. Returns null when the window misses the rank.
    /// </summary>
    private static float? WindowedSelection(ReadOnlySpan<float> column, ReadOnlySpan<float> p, int rank,
        Span<float> window)
    {
        var n = column.Length;
        Span<float> sample = stackalloc float[SampleSize];
        for (var k = 0; k < SampleSize; k++)
        {
            var i = (int)((long)k * n / SampleSize);
            sample[k] = column[i] - p[i];
        }
        sample.Sort();
        sample.Reverse(); // descending

        var fraction = (double)rank / n;
        var expected = fraction * SampleSize;
        var margin = (3.0 * Math.Sqrt(SampleSize * fraction * (1 - fraction))) + 2;
        var upper = (int)Math.Floor(expected - margin);
        var lower = (int)Math.Ceiling(expected + margin);
        var hi = upper < 0 ? float.PositiveInfinity : sample[upper];
        var lo = lower >= SampleSize ? float.NegativeInfinity : sample[lower];

        var lanes = Vector<float>.Count;
        var above = Vector<int>.Zero;
        var hiV = new Vector<float>(hi);
        var loV = new Vector<float>(lo);
        var inside = 0;
        var i0 = 0;
        for (; i0 + lanes <= n; i0 += lanes)
        {
            var v = new Vector<float>(column[i0..]) - new Vector<float>(p[i0..]);
            above -= Vector.GreaterThan(v, hiV); // true lanes are -1
            var inWindow = Vector.BitwiseAnd(Vector.GreaterThanOrEqual(v, loV), Vector.LessThanOrEqual(v, hiV));
            if (inWindow == Vector<int>.Zero)
                continue;
            for (var l = 0; l < lanes; l++)
            {
                if (inWindow[l] != 0)
                    window[inside++] = v[l];
            }
        }
        var countAbove = Vector.Sum(above);
        for (; i0 < n; i0++)
        {
            var v = column[i0] - p[i0];
            if (v > hi)
                countAbove++;
            else if (v >= lo)
                window[inside++] = v;
        }

        var within = rank - countAbove;
        return within >= 1 && within <= inside ? Selection.KthLargest(window[..inside], within) : null;
    }
}
