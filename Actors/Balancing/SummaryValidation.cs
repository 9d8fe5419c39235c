using Moe.Model.Balancing;

namespace Moe.Actors.Balancing;

/// <summary>
/// Decides whether a trainer's summary is usable. Pure: the balancer calls it before touching any state, so a
/// rejected summary changes nothing and persists nothing.
/// </summary>
public static class SummaryValidation
{
    /// <returns>Null when the summary is well formed, else the reason to send back.</returns>
    public static string? Problem(LayerSpec? spec, long committedStep, long maxStepsAhead, StepSummary summary)
    {
        if (spec is null)
            return $"unknown job: layer {summary.Layer} of job \"{summary.JobId}\" was never configured; " +
                   "the job's coordinator configures its balancers when the job starts";
        if (string.IsNullOrEmpty(summary.TrainerId))
            return "the trainer id is empty";
        if (summary.Step < 0)
            return $"step {summary.Step} is negative";
        if (summary.Step > committedStep + maxStepsAhead)
            return $"step {summary.Step} is too far ahead of the last committed step {committedStep} " +
                   $"(at most {maxStepsAhead} ahead); the trainer's step counter is wrong";
        if (summary.Contributors < 1)
            return $"contributors must be at least 1, got {summary.Contributors}";
        if (summary.Tokens < 1)
            return $"token count must be at least 1, got {summary.Tokens}";
        if (summary.Loads.Length != spec.Experts)
            return $"loads has {summary.Loads.Length} entries, expected one per expert ({spec.Experts})";
        long routed = 0;
        foreach (var load in summary.Loads)
        {
            if (load < 0)
                return $"loads must be non-negative, got {load}";
            routed += load;
        }
        if (routed > summary.Tokens * spec.TopK)
            return $"loads sum to {routed} but {summary.Tokens} tokens x K = {spec.TopK} allow at most {summary.Tokens * spec.TopK}";
        if (summary.Window is { } window && (window.Experts != spec.Experts || window.Bins != spec.Range.Bins))
            return $"its window has {window.Experts} experts x {window.Bins} bins, expected {spec.Experts} x {spec.Range.Bins}";
        if (summary.Window is { } published && (published.Step < 0 || published.Step >= summary.Step))
            return $"its window is said to be published at step {published.Step}, which is not a step before {summary.Step}";
        try
        {
            ExpertHistogram.ValidateSparse(spec.Experts, spec.Range.Bins, summary.Tokens, summary.Histogram);
        }
        catch (ArgumentException e)
        {
            return $"histogram: {e.Message.Split(" (Parameter", 2)[0]}";
        }
        return null;
    }
}
