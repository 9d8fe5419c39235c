using Moe.Model.Balancing;
using Moe.Model.Routing;
using static TorchSharp.torch;

namespace Moe.Testing;

/// <summary>
/// A layer balancer's read-out without the cluster, step after step: each of <see cref="ReadoutCase.Trainers"/>
/// trainers draws a fresh batch of scores (seeded Gaussian logits plus a fixed per-expert skew, through softmax or
/// sigmoid), warm-starts from the global q of the previous step, solves T iterations on its own batch, and bins
/// s - p with the job's fixed range and with the read-out window; their histograms are summed. Each step then gives
/// the quantiles read three ways (fixed range, window, exact over the merged batch) and the MaxVio_batch of each q
/// applied alone to the step's tokens, and of the previous step's q to these tokens. The exact q drives the warm
/// starts, so the three read-outs see the same batches.
/// </summary>
public sealed class ReadoutSimulation(ReadoutCase c)
{
    private readonly Dictionary<long, ReadoutWindow> _windows = [];
    private readonly ReadoutWindow _fixed = ReadoutWindow.Fixed(HistogramRange.Default, c.Experts);
    private float[] _globalQ = new float[c.Experts];
    private StepReadout? _previous;
    private long _step;

    /// <summary>Trainers bin step t with the window read at step t - lag, as in a job (see JobSpec.WindowLag).</summary>
    public int WindowLag { get; init; } = 4;

    public StepReadout Step()
    {
        using var scope = NewDisposeScope();
        var step = _step++;
        var window = _windows.GetValueOrDefault(step - WindowLag) ?? _fixed;
        var scores = new List<Tensor>();
        var prices = new List<Tensor>();
        var fixedSum = new ExpertHistogram(_fixed);
        var windowSum = new ExpertHistogram(window);
        for (var t = 0; t < c.Trainers; t++)
        {
            var s = Batch(step, t);
            var q = DualBalancing.Solve(s, tensor(_globalQ), c.TopK, c.Iterations, c.Clip);
            var p = DualBalancing.TokenPrices(s, q, c.TopK, c.Clip);
            fixedSum.AddValidated(ExpertHistogram.Build(s, p, _fixed).ToSparse(), c.TokensPerTrainer);
            windowSum.AddValidated(ExpertHistogram.Build(s, p, window).ToSparse(), c.TokensPerTrainer);
            scores.Add(s);
            prices.Add(p);
        }
        var all = cat(scores);
        var allPrices = cat(prices);
        var capacity = DualBalancing.Capacity(all.shape[0], c.Experts, c.TopK);
        var exact = DualBalancing.ExpertPrices(all, allPrices, capacity, clip: false).data<float>().ToArray();
        var windowed = windowSum.ReadOut(c.TopK);
        var fixedRange = fixedSum.ReadOut(c.TopK);
        _windows[step] = window.Next(step, windowSum, windowed, capacity);

        var qExact = Clip(exact);
        var result = new StepReadout(
            step, exact, windowed, fixedRange, window,
            MaxVio(all, fixedRange.Prices(c.Clip)), MaxVio(all, windowed.Prices(c.Clip)), MaxVio(all, qExact),
            _previous is { } previous ? MaxVio(all, previous.WindowQ) : double.NaN,
            _previous is { } before ? MaxVio(all, before.ExactQ) : double.NaN)
        { WindowQ = windowed.Prices(c.Clip), ExactQ = qExact };
        _previous = result;
        _globalQ = qExact;
        return result;
    }

    /// <summary>One trainer's histogram of a fresh batch binned with <paramref name="window"/> (to measure a summary's size).</summary>
    public ExpertHistogram Histogram(ReadoutWindow window)
    {
        using var scope = NewDisposeScope();
        var s = Batch(0, 0);
        var q = DualBalancing.Solve(s, tensor(_globalQ), c.TopK, c.Iterations, c.Clip);
        return ExpertHistogram.Build(s, DualBalancing.TokenPrices(s, q, c.TopK, c.Clip), window);
    }

    private float[] Clip(float[] values) => c.Clip ? [.. values.Select(v => MathF.Max(0f, v))] : values;

    // MaxVio_batch of routing every token to its top K of s - q, with no capacity and no re-solve.
    private double MaxVio(Tensor scores, float[] q)
    {
        using var scope = NewDisposeScope();
        var chosen = (scores - tensor(q).unsqueeze(0)).topk(c.TopK, dim: 1).indexes.flatten();
        var loads = bincount(chosen, minlength: c.Experts).data<long>().ToArray();
        return BalanceMeasures.FromLoads(loads).MaxVio;
    }

    private Tensor Batch(long step, int trainer)
    {
        var random = new Random((int)((c.Seed * 1_000_003L) + (step * 101) + trainer)); // not HashCode: it is salted per process
        var logits = new float[c.TokensPerTrainer * c.Experts];
        for (var i = 0; i < c.TokensPerTrainer; i++)
        {
            for (var j = 0; j < c.Experts; j++)
                logits[(i * c.Experts) + j] = (float)(Gaussian(random) - (c.Skew * j / c.Experts));
        }
        using var raw = tensor(logits, [c.TokensPerTrainer, c.Experts]);
        return Scoring.Scores(raw, c.Score);
    }

    private static double Gaussian(Random random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}

/// <summary>
/// One simulated layer: m experts, top-K, the score function, whether q is clipped (BIP) or not (QB), and a skew that
/// lowers expert j's logits by skew x j / m, so that experts differ in popularity.
/// </summary>
public sealed record ReadoutCase(int Experts, int TopK, ScoreFunction Score, bool Clip, double Skew = 2, int Trainers = 4,
    int TokensPerTrainer = 8192, int Iterations = 16, int Seed = 1)
{
    public override string ToString() => $"m={Experts} K={TopK} score={Score.ToString().ToLowerInvariant()}";
}

/// <summary>What one simulated step read and what each q gives when applied alone.</summary>
/// <param name="Exact">The exact (C+1)-th largest of the merged s - p per expert, unclipped.</param>
/// <param name="Window">The window the step was binned with.</param>
/// <param name="NextMaxVio">The previous step's window q applied to this step's tokens (NaN at the first step).</param>
/// <param name="NextExactMaxVio">The previous step's exact q applied to this step's tokens.</param>
public sealed record StepReadout(long Step, float[] Exact, QuantileReadout Windowed, QuantileReadout FixedRange, ReadoutWindow Window,
    double FixedMaxVio, double WindowMaxVio, double ExactMaxVio, double NextMaxVio, double NextExactMaxVio)
{
    public float[] WindowQ { get; init; } = [];

    public float[] ExactQ { get; init; } = [];
}
