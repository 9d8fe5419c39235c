using Moe.Actors.Training;

namespace Moe.Cluster.Host.Reports;

/// <summary>The headline figures of a job, computed from its recorded rounds (pure).</summary>
public sealed record JobSummary(
    int CommittedRounds,
    long Tokens,
    double TrainingSeconds,
    double ElapsedSeconds,
    double FirstLoss,
    double LastLoss,
    double MeanMaxVio,
    double WorstMaxVio,
    int Joins,
    int Leaves,
    IReadOnlyList<TrainerSummary> Trainers)
{
    /// <summary>Tokens per second of round wall time (stops between rounds excluded).</summary>
    public double TokensPerSecond => TrainingSeconds > 0 ? Tokens / TrainingSeconds : double.NaN;

    public static JobSummary Of(JobHistory history)
    {
        var rounds = history.Rounds;
        if (rounds.Count == 0)
            return new JobSummary(0, 0, 0, 0, double.NaN, double.NaN, double.NaN, double.NaN, 0, 0, []);
        var (joins, leaves) = (0, 0);
        for (var k = 1; k < rounds.Count; k++)
        {
            var before = rounds[k - 1].Contributors.ToHashSet(StringComparer.Ordinal);
            var after = rounds[k].Contributors.ToHashSet(StringComparer.Ordinal);
            joins += after.Count(t => !before.Contains(t));
            leaves += before.Count(t => !after.Contains(t));
        }
        var started = rounds[0].CommittedAt - TimeSpan.FromSeconds(double.IsNaN(rounds[0].Seconds) ? 0 : rounds[0].Seconds);
        var trainers = rounds.SelectMany(r => r.Parts).GroupBy(p => p.TrainerId, StringComparer.Ordinal)
            .Select(g => TrainerSummary.Of(g.Key, [.. g]))
            .OrderBy(t => t.TrainerId, StringComparer.Ordinal)
            .ToList();
        return new JobSummary(
            rounds.Count,
            rounds.Sum(r => r.Tokens),
            rounds.Where(r => !double.IsNaN(r.Seconds)).Sum(r => r.Seconds),
            rounds[0].CommittedAt == default ? double.NaN : (rounds[^1].CommittedAt - started).TotalSeconds,
            rounds[0].MeanLoss,
            rounds[^1].MeanLoss,
            rounds.Average(r => r.Parts.Average(p => p.MeanMaxVio)),
            rounds.Max(r => r.WorstMaxVio),
            joins,
            leaves,
            trainers);
    }
}

/// <summary>One trainer over the rounds it contributed to.</summary>
/// <param name="WaitShare">Share of its part time spent waiting for global q.</param>
public sealed record TrainerSummary(string TrainerId, int Rounds, long Tokens, double TokensPerSecond, double WaitShare, int StaleSteps)
{
    public static TrainerSummary Of(string trainerId, IReadOnlyList<PartStats> parts)
    {
        var (step, wait) = (parts.Sum(p => p.StepSeconds), parts.Sum(p => p.WaitSeconds));
        return new TrainerSummary(trainerId, parts.Count, parts.Sum(p => p.Tokens),
            step > 0 ? parts.Sum(p => p.Tokens) / step : double.NaN,
            step + wait > 0 ? wait / (step + wait) : double.NaN,
            parts.Sum(p => p.StaleSteps));
    }
}
