using Moe.Actors.Balancing;
using Moe.Model.Balancing;
using Moe.Model.Routing;
using static TorchSharp.torch;

namespace Moe.Actors.Tests.Support;

/// <summary>Realistic trainer summaries: seeded skewed softmax scores, p from a local BIP solve, histograms per split.</summary>
internal static class Summaries
{
    public static readonly LayerSpec Spec = LayerSpec.Create(16, 2, HistogramRange.Default, clip: true);

    public static Tensor Scores(int tokens, int experts, int seed, double skew = 3)
    {
        var random = new Random(seed);
        var logits = new float[tokens * experts];
        for (var i = 0; i < tokens; i++)
        {
            for (var j = 0; j < experts; j++)
                logits[(i * experts) + j] = (float)((random.NextDouble() * 4) - (skew * j / experts));
        }
        using var raw = tensor(logits, [tokens, experts]);
        return Scoring.Scores(raw, ScoreFunction.Softmax);
    }

    /// <summary>
    /// The summaries of <paramref name="scores"/> split evenly over <paramref name="trainers"/> trainers, binned with
    /// <paramref name="window"/> (by default the job's fixed range).
    /// </summary>
    public static StepSummary[] Split(string job, int layer, long step, Tensor scores, int trainers, LayerSpec spec, ReadoutWindow? window = null)
    {
        var bins = window ?? ReadoutWindow.Fixed(spec.Range, spec.Experts);
        using var scope = NewDisposeScope();
        var q = zeros(spec.Experts);
        var localQ = DualBalancing.Solve(scores, q, spec.TopK, 4, spec.Clip);
        var p = DualBalancing.TokenPrices(scores, localQ, spec.TopK, spec.Clip);
        var tokens = scores.shape[0];
        var per = tokens / trainers;
        var summaries = new StepSummary[trainers];
        for (var t = 0; t < trainers; t++)
        {
            var s = scores.narrow(0, t * per, per);
            var histogram = ExpertHistogram.Build(s, p.narrow(0, t * per, per), bins);
            var loads = (s - localQ).topk(spec.TopK).indexes.flatten().bincount(null, spec.Experts);
            summaries[t] = new StepSummary(job, layer, $"trainer-{t}", step, trainers, per,
                loads.data<long>().ToArray(), histogram.ToSparse())
            { Window = window };
        }
        return summaries;
    }

    /// <summary>q read from the whole batch at once: what any split must reproduce.</summary>
    public static float[] WholeBatchQ(Tensor scores, LayerSpec spec, ReadoutWindow? window = null)
    {
        using var scope = NewDisposeScope();
        var localQ = DualBalancing.Solve(scores, zeros(spec.Experts), spec.TopK, 4, spec.Clip);
        var p = DualBalancing.TokenPrices(scores, localQ, spec.TopK, spec.Clip);
        return ExpertHistogram.Build(scores, p, window ?? ReadoutWindow.Fixed(spec.Range, spec.Experts)).ExpertPrices(spec.TopK, spec.Clip);
    }
}
