using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using Moe.Model.Routing;

namespace Moe.Model.Balancing;

/// <summary>
/// The same dual iterations as <see cref="DualBalancing"/> on a row-major float32 matrix in memory, written for
/// the CPU; results are bit-identical to the tensor path.
/// <para>
/// The matrix is repacked once per solve into tiles of <see cref="Tile"/> tokens: inside a tile, expert j's
/// scores of those tokens are adjacent (one cache line with AVX2). Token prices then read each tile once and keep
/// a running top-(K+1) per SIMD lane (one lane per token). Expert prices narrow a bracket around a warm guess
/// (the previous iteration's price) with vectorised counting passes that read one line per tile, and select
/// among the few values left inside it. Padding tokens hold -inf and never count.
/// </para>
/// </summary>
public static class DualBalancingCpu
{
    /// <summary>Counting passes per expert before the bracket is extracted whatever its size.</summary>
    private const int MaxCountingPasses = 8;

    /// <summary>The first bracket half-width when nothing is known yet (scores live in [0, 1]).</summary>
    private const float InitialWidth = 0.01f;

    private static int Lanes => Vector<float>.Count;

    private static int Tile => 2 * Vector<float>.Count;

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
        if (!AllFinite(scores))
            throw new ArgumentException("Scores contain NaN or infinite values.", nameof(scores));
        SolveValidated(scores, tokens, experts, q, topK, iterations, clip);
    }

    /// <summary><see cref="Solve"/> for callers that have validated every argument already.</summary>
    internal static void SolveValidated(ReadOnlySpan<float> scores, int tokens, int experts, Span<float> q, int topK,
        int iterations, bool clip) => SolveValidated(scores, tokens, experts, q, topK, iterations, clip, clip);

    /// <summary>The same with the token prices p and the expert prices q clipped at 0 or not, each on its own.</summary>
    internal static void SolveValidated(ReadOnlySpan<float> scores, int tokens, int experts, Span<float> q, int topK,
        int iterations, bool clipTokenPrices, bool clipExpertPrices)
    {
        var capacity = DualBalancing.Capacity(tokens, experts, topK);
        var tiles = (tokens + Tile - 1) / Tile;
        var padded = tiles * Tile;
        var tiled = ArrayPool<float>.Shared.Rent(padded * experts);
        var p = ArrayPool<float>.Shared.Rent(padded);
        var window = ArrayPool<float>.Shared.Rent(tokens);
        var guesses = q.ToArray(); // unclipped prices of the last iteration: where each bracket starts
        var widths = new float[experts];
        Array.Fill(widths, InitialWidth);
        try
        {
            Pack(scores, tokens, experts, tiled);
            for (var t = 0; t < iterations; t++)
            {
                TokenPrices(tiled, tiles, experts, q, topK, clipTokenPrices, p);
                p.AsSpan(tokens, padded - tokens).Clear(); // -inf - 0 stays -inf: padding never counts
                for (var j = 0; j < experts; j++)
                {
                    if (capacity >= tokens)
                    {
                        q[j] = 0f;
                        continue;
                    }
                    var price = ExpertPrice(tiled, tiles, experts, j, p, (int)capacity + 1, window, clipExpertPrices, guesses[j], widths[j]);
                    widths[j] = MathF.Max(2 * MathF.Abs(price - guesses[j]), 1e-6f);
                    guesses[j] = price;
                    q[j] = clipExpertPrices ? MathF.Max(price, 0f) : price;
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(window);
            ArrayPool<float>.Shared.Return(p);
            ArrayPool<float>.Shared.Return(tiled);
        }
    }

    internal static bool AllFinite(ReadOnlySpan<float> values)
    {
        // x - x is 0 for finite x and NaN for NaN and infinities.
        var i = 0;
        for (; i + Lanes <= values.Length; i += Lanes)
        {
            var v = new Vector<float>(values[i..]);
            if (!Vector.EqualsAll(v - v, Vector<float>.Zero))
                return false;
        }
        for (; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
                return false;
        }
        return true;
    }

    /// <summary>Row-major [tokens, experts] to tiles: element (i, j) at (i / Tile) * Tile * m + j * Tile + i % Tile.</summary>
    private static void Pack(ReadOnlySpan<float> source, int tokens, int experts, float[] tiled)
    {
        var tiles = (tokens + Tile - 1) / Tile;
        for (var t = 0; t < tiles; t++)
        {
            var tile = tiled.AsSpan(t * Tile * experts, Tile * experts);
            for (var lane = 0; lane < Tile; lane++)
            {
                var i = (t * Tile) + lane;
                if (i < tokens)
                {
                    var row = source.Slice(i * experts, experts);
                    for (var j = 0; j < experts; j++)
                        tile[(j * Tile) + lane] = row[j];
                }
                else
                {
                    for (var j = 0; j < experts; j++)
                        tile[(j * Tile) + lane] = float.NegativeInfinity;
                }
            }
        }
    }

    /// <summary>p[i] = (K+1)-th largest of s[i,:] - q over experts, for every (padded) token.</summary>
    private static void TokenPrices(float[] tiled, int tiles, int experts, ReadOnlySpan<float> q, int topK, bool clip,
        float[] p)
    {
        if (topK >= experts)
        {
            Array.Clear(p);
            return;
        }

        // The (K+1)-th largest is the (m-K)-th smallest; keep whichever of the two running sets is smaller.
        var keepLargest = topK + 1 <= experts - topK;
        var kept = keepLargest ? topK + 1 : experts - topK;
        Span<Vector<float>> best = kept <= 64 ? stackalloc Vector<float>[kept] : new Vector<float>[kept];
        Span<Vector<float>> prices = experts <= 256 ? stackalloc Vector<float>[experts] : new Vector<float>[experts];
        for (var j = 0; j < experts; j++)
            prices[j] = new Vector<float>(q[j]);
        var fill = new Vector<float>(keepLargest ? float.NegativeInfinity : float.PositiveInfinity);
        ref var s = ref MemoryMarshal.GetArrayDataReference(tiled);

        for (var t = 0; t < tiles; t++)
        {
            for (var half = 0; half < Tile; half += Lanes)
            {
                var offset = (nuint)((t * Tile * experts) + half);
                best.Fill(fill);
                for (var j = 0; j < experts; j++)
                {
                    var v = Vector.LoadUnsafe(ref s, offset + (nuint)(j * Tile)) - prices[j];
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
                price.CopyTo(p, (t * Tile) + half);
            }
        }
    }

    /// <summary>
    /// The rank-th largest of v[i] = s[i,j] - p[i] (unclipped, except that with <paramref name="clip"/> any value
    /// at or below 0 may be returned as 0). Keeps a bracket (low, high] that holds it, known by the counts
    /// #(v &gt; low) &gt;= rank &gt; #(v &gt; high); each counting pass tests two thresholds around the guess.
    /// </summary>
    private static float ExpertPrice(float[] tiled, int tiles, int experts, int expert, float[] p, int rank,
        Span<float> buffer, bool clip, float guess, float width)
    {
        var column = new Column(tiled, tiles, experts, expert, p);
        float low = float.NegativeInfinity, high = float.PositiveInfinity;
        int countLow = int.MaxValue, countHigh = 0;
        var small = Math.Max(64, tiles * Tile / 128);
        for (var pass = 0; pass < MaxCountingPasses && countLow - countHigh > small; pass++)
        {
            var (upper, lower) = Thresholds(low, high, guess, width);
            if (clip)
            {
                // A price at or below 0 is clipped to 0, so the bracket never needs to reach below 0.
                upper = MathF.Max(upper, 0f);
                lower = MathF.Max(lower, 0f);
            }
            var (aboveUpper, aboveLower) = column.CountAbove(upper, lower);
            if (aboveUpper >= rank)
            {
                (low, countLow) = (upper, aboveUpper);
            }
            else
            {
                (high, countHigh) = (upper, aboveUpper);
                if (aboveLower >= rank)
                    (low, countLow) = (lower, aboveLower);
                else
                    (high, countHigh) = (lower, aboveLower);
            }
            if (clip && high <= 0f)
                return 0f;

            if (float.IsFinite(low) && float.IsFinite(high))
            {
                // Interpolate the rank's position inside the bracket; aim the next two thresholds tightly at it.
                var share = (double)(rank - countHigh) / (countLow - countHigh);
                guess = (float)(high - (share * (high - low)));
                width = (float)((high - low) * Math.Clamp((double)small / (countLow - countHigh), 1.0 / 64, 0.25));
            }
            else
            {
                width *= 4; // still searching for one side of the bracket
            }
        }

        var inside = column.Extract(low, high, buffer);
        return Selection.KthLargest(buffer[..inside], rank - countHigh);
    }

    /// <summary>Two thresholds upper &gt; lower strictly inside (low, high), around guess where possible.</summary>
    private static (float Upper, float Lower) Thresholds(float low, float high, float guess, float width)
    {
        if (float.IsFinite(low) && float.IsFinite(high))
        {
            var upper = MathF.Min(guess + width, high - ((high - low) / 64));
            var lower = MathF.Max(guess - width, low + ((high - low) / 64));
            return upper > lower ? (upper, lower) : (low + ((high - low) * 2 / 3), low + ((high - low) / 3));
        }
        if (float.IsFinite(high))
            return (MathF.Min(guess + width, high - width), MathF.Min(guess - width, high - (2 * width)));
        if (float.IsFinite(low))
            return (MathF.Max(guess + width, low + (2 * width)), MathF.Max(guess - width, low + width));
        return (guess + width, guess - width);
    }

    /// <summary>One expert's values s[i,j] - p[i] over the tiled matrix, two vectors (one tile) at a time.</summary>
    private readonly ref struct Column(float[] tiled, int tiles, int experts, int expert, float[] p)
    {
        private readonly ref float _s = ref MemoryMarshal.GetArrayDataReference(tiled);
        private readonly ref float _p = ref MemoryMarshal.GetArrayDataReference(p);

        private Vector<float> Load(int tile, int half) =>
            Vector.LoadUnsafe(ref _s, (nuint)((((tile * experts) + expert) * Tile) + half))
            - Vector.LoadUnsafe(ref _p, (nuint)((tile * Tile) + half));

        /// <summary>#(v &gt; upper) and #(v &gt; lower) in one pass.</summary>
        public (int AboveUpper, int AboveLower) CountAbove(float upper, float lower)
        {
            var upperV = new Vector<float>(upper);
            var lowerV = new Vector<float>(lower);
            Vector<int> aboveUpper = default, aboveLower = default;
            for (var t = 0; t < tiles; t++)
            {
                var v0 = Load(t, 0);
                var v1 = Load(t, Lanes);
                // Lanes where the comparison holds are -1.
                aboveUpper -= Vector.GreaterThan(v0, upperV) + Vector.GreaterThan(v1, upperV);
                aboveLower -= Vector.GreaterThan(v0, lowerV) + Vector.GreaterThan(v1, lowerV);
            }
            return (Vector.Sum(aboveUpper), Vector.Sum(aboveLower));
        }

        /// <summary>Copies every v in (low, high] into buffer; returns how many.</summary>
        public int Extract(float low, float high, Span<float> buffer)
        {
            var lowV = new Vector<float>(low);
            var highV = new Vector<float>(high);
            var count = 0;
            for (var t = 0; t < tiles; t++)
            {
                for (var half = 0; half < Tile; half += Lanes)
                {
                    var v = Load(t, half);
                    var inside = Vector.BitwiseAnd(Vector.GreaterThan(v, lowV), Vector.LessThanOrEqual(v, highV));
                    if (inside == Vector<int>.Zero)
                        continue;
                    for (var l = 0; l < Lanes; l++)
                    {
                        if (inside[l] != 0)
                            buffer[count++] = v[l];
                    }
                }
            }
            return count;
        }
    }
}
