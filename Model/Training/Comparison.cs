using Moe.Model.Data;
using Moe.Model.Network;
using Moe.Model.Routing;

namespace Moe.Model.Training;

/// <summary>Everything one method's run of a comparison measured.</summary>
public sealed record MethodRun(ComparedMethod Method, IReadOnlyList<StepMetrics> Steps, IReadOnlyList<Evaluation> Evaluations)
{
    public Evaluation Final => Evaluations[^1];
}

/// <summary>One row of the comparison table.</summary>
/// <param name="DroppedShare">Token copies dropped by expert capacity, as a share of all routed copies.</param>
public sealed record MethodSummary(
    ComparedMethod Method,
    double ValidationPerplexity,
    double AvgMaxVioBatch,
    double SupMaxVioBatch,
    double WorstLayerSupMaxVioBatch,
    double MaxVioGlobal,
    int DeadExperts,
    double MeanStepSeconds,
    double StepTimeRatioToTopK,
    double TokensPerSecond,
    double DroppedShare);

/// <summary>
/// Trains the same model on the same data, seed and token budget once per routing method. The methods advance
/// in lock step (one step of each in turn), so that the machine's noise falls on all of them alike and their
/// step times can be compared as ratios measured side by side.
/// </summary>
public static class Comparison
{
    /// <summary>Steps left out of timing while the JIT and allocator warm up.</summary>
    public const int UntimedSteps = 5;

    public static IReadOnlyList<MethodRun> Run(MoeModelConfig model, TrainingConfig training, TokenDataset data,
        IReadOnlyList<ComparedMethod> methods, Action<ComparedMethod, StepMetrics>? onStep = null,
        Action<ComparedMethod, Evaluation>? onEvaluation = null, CancellationToken cancellation = default)
    {
        if (methods.Count == 0 || methods.Select(m => m.Name).Distinct().Count() != methods.Count)
            throw new ArgumentException("Name each method to compare once.", nameof(methods));
        var loops = methods.Select(m => new TrainingLoop(
            model with { Router = m.Router, CapacityFactor = m.CapacityFactor ?? model.CapacityFactor, DualVariant = m.Variant }, training, data)).ToArray();
        try
        {
            var steps = methods.Select(_ => new List<StepMetrics>()).ToArray();
            var evaluations = methods.Select(_ => new List<Evaluation>()).ToArray();
            for (var step = 0; step < training.Steps; step++)
            {
                cancellation.ThrowIfCancellationRequested();
                var evaluate = step == training.Steps - 1
                    || (training.EvaluationInterval > 0 && (step + 1) % training.EvaluationInterval == 0);
                for (var k = 0; k < loops.Length; k++)
                {
                    var metrics = loops[k].TrainStep();
                    steps[k].Add(metrics);
                    onStep?.Invoke(methods[k], metrics);
                    if (evaluate)
                    {
                        var evaluation = loops[k].Evaluate();
                        evaluations[k].Add(evaluation);
                        onEvaluation?.Invoke(methods[k], evaluation);
                    }
                }
            }
            return [.. methods.Select((m, k) => new MethodRun(m, steps[k], evaluations[k]))];
        }
        finally
        {
            foreach (var loop in loops)
                loop.Dispose();
        }
    }

    private static double DroppedShare(MethodRun run)
    {
        var (dropped, routed) = (run.Steps.Sum(s => s.Layers.Sum(l => l.Dropped)), run.Steps.Sum(s => s.Layers.Sum(l => l.Loads.Sum())));
        return routed > 0 ? (double)dropped / routed : 0;
    }

    public static IReadOnlyList<MethodSummary> Summarize(IReadOnlyList<MethodRun> runs)
    {
        static double MeanStepSeconds(MethodRun run)
        {
            var timed = run.Steps.Count > UntimedSteps ? run.Steps.Skip(UntimedSteps) : run.Steps;
            return timed.Average(s => s.Duration.TotalSeconds);
        }

        var topK = runs.FirstOrDefault(r => r.Method.Router == RouterKind.TopK);
        var baseline = topK is null ? double.NaN : MeanStepSeconds(topK);
        return [.. runs.Select(run =>
        {
            var stepSeconds = MeanStepSeconds(run);
            return new MethodSummary(
                run.Method,
                run.Final.Perplexity,
                run.Steps.Average(s => s.MeanMaxVio),
                run.Steps.Max(s => s.MeanMaxVio),
                run.Steps.Max(s => s.WorstMaxVio),
                run.Final.MeanMaxVio,
                run.Final.Layers.Sum(l => l.Measures.DeadExperts),
                stepSeconds,
                stepSeconds / baseline,
                run.Steps[0].Tokens / stepSeconds,
                DroppedShare(run));
        })];
    }
}
