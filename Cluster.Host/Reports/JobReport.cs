using System.Globalization;
using System.Text;
using Moe.Actors.Training;
using Moe.Actors.Training.Protocol;
using Moe.Model.Data;
using Moe.Model.Training.Rounds;

namespace Moe.Cluster.Host.Reports;

/// <summary>
/// The report of a job from its recorded rounds: report.md (summary, trainers, rounds), rounds.csv (one row per
/// round, per-layer MaxVio included), parts.csv (one row per trainer per round) and PNG plots.
/// </summary>
public static class JobReport
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Rounds listed in report.md before it elides the middle (rounds.csv always has all).</summary>
    private const int ListedRounds = 20;

    /// <summary>Writes every file of the report into <paramref name="folder"/>; returns their paths.</summary>
    /// <param name="checkpoint">Where the last committed parameters are (a path, or the blob id on a remote store).</param>
    /// <param name="model">The job's model folder, when one was written.</param>
    public static IReadOnlyList<string> Write(JobHistory history, string folder, string? checkpoint, string? model = null)
    {
        Directory.CreateDirectory(folder);
        var summary = JobSummary.Of(history);
        var plots = history.Rounds.Count == 0 ? [] : JobPlots.Write(history, folder);
        List<string> files = [Path.Combine(folder, "report.md"), Path.Combine(folder, "rounds.csv"), Path.Combine(folder, "parts.csv")];
        // Each file appears whole or not at all: a reader never sees half a report.
        AtomicFile.Write(files[0], Encoding.UTF8.GetBytes(Markdown(history, summary, checkpoint, [.. plots.Select(Path.GetFileName).OfType<string>()], model)));
        AtomicFile.Write(files[1], Encoding.UTF8.GetBytes(RoundsCsv(history)));
        AtomicFile.Write(files[2], Encoding.UTF8.GetBytes(PartsCsv(history)));
        return [.. files, .. plots];
    }

    public static string Markdown(JobHistory history, JobSummary s, string? checkpoint, IReadOnlyList<string> plots, string? model = null)
    {
        var spec = history.Spec;
        var text = new StringBuilder();
        text.AppendLine(Invariant, $"# Job {spec.JobId}").AppendLine();
        text.AppendLine(Invariant, $"{(history.Finished ? "Finished" : "Not finished")}: {s.CommittedRounds} of {spec.Rounds} rounds committed.").AppendLine();
        text.AppendLine("| setting | value |").AppendLine("|---|---|");
        Row(text, "preset", spec.Preset);
        Row(text, "model", spec.Model.Describe());
        Row(text, "optimiser", string.Create(Invariant, $"AdamW, learning rate {spec.Training.LearningRate}, warm-up {spec.Training.WarmupSteps} steps, weight decay {spec.Training.WeightDecay}, gradient clip {spec.Training.GradientClip}"));
        Row(text, "router", spec.Router.ToString());
        Row(text, "data", spec.TextPath ?? "Brown Corpus");
        Row(text, "round", $"{spec.InnerSteps} inner steps of batch {spec.Training.BatchSize}, quorum {spec.Quorum}, timeout {spec.RoundTimeout.TotalSeconds:F0} s");
        Row(text, "overlap", spec.OverlapSteps == 0
            ? "none: each round starts from the committed parameters"
            : $"each round's first {spec.OverlapSteps} step(s) run while the round before commits");
        Row(text, "outer step", spec.OuterMomentum == 0 && spec.OuterLearningRate == 1
            ? "plain averaging of the trainers' parameters"
            : $"Nesterov, learning rate {spec.OuterLearningRate}, momentum {spec.OuterMomentum}");
        Row(text, "round data", (spec.Sliced ? $"stepped in {spec.Slices} slices by their owners" : "stepped whole by the coordinator") +
            $", deltas as {(spec.DeltaPrecision == DeltaPrecision.Bf16 ? "bfloat16" : "float32")}");
        Row(text, "balancing", $"{spec.HistogramBins} histogram bins per read-out window, q staleness at most {spec.MaxStaleness} steps " +
            $"at first, {StalenessBound.After(spec, history.Rounds.SkipLast(1))} in the last round");
        Row(text, "seed", spec.Seed.ToString(Invariant));
        text.AppendLine();

        text.AppendLine("## Summary").AppendLine();
        text.AppendLine("| figure | value |").AppendLine("|---|---:|");
        Row(text, "tokens trained", s.Tokens.ToString("N0", Invariant));
        Row(text, "round time (sum)", Seconds(s.TrainingSeconds));
        Row(text, "elapsed, first round to last commit", Seconds(s.ElapsedSeconds));
        Row(text, "tokens/s (over round time)", Number(s.TokensPerSecond, "N0"));
        Row(text, "loss, first round → last", $"{Number(s.FirstLoss, "F4")} → {Number(s.LastLoss, "F4")}");
        Row(text, "perplexity, first round → last", $"{Number(Math.Exp(s.FirstLoss), "F1")} → {Number(Math.Exp(s.LastLoss), "F1")}");
        Row(text, "MaxVio_batch, mean over layers and rounds", Number(s.MeanMaxVio, "F3"));
        Row(text, "MaxVio_batch, worst layer and step", Number(s.WorstMaxVio, "F3"));
        Row(text, "trainers seen / joins / leaves", $"{s.Trainers.Count} / {s.Joins} / {s.Leaves}");
        if (checkpoint is not null)
            Row(text, "last checkpoint", $"`{checkpoint}`");
        if (model is not null)
            Row(text, "model folder (generate, eval)", $"`{model}`");
        else if (s.CommittedRounds > 0)
            Row(text, "model folder (generate, eval)", $"not written yet: `Cluster.Host export --job-id {spec.JobId}`");
        text.AppendLine();

        text.AppendLine("## Trainers").AppendLine();
        text.AppendLine("| trainer | rounds | tokens | tokens/s in steps | share waiting for q | stale steps |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var t in s.Trainers)
        {
            text.AppendLine(Invariant,
                $"| {t.TrainerId} | {t.Rounds} | {t.Tokens:N0} | {Number(t.TokensPerSecond, "N0")} | {Number(t.WaitShare * 100, "F1")} % | {t.StaleSteps} |");
        }
        text.AppendLine();

        text.AppendLine("## Rounds").AppendLine();
        text.AppendLine("| round | trainers | tokens | seconds | tokens/s | loss | mean MaxVio | worst MaxVio |");
        text.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
        var rounds = history.Rounds;
        // The middle of a long job is one line here: the first and last rounds tell the story, rounds.csv has all.
        List<RoundCommittedEvent?> listed = rounds.Count > ListedRounds ? [.. rounds.Take(ListedRounds / 2), null, .. rounds.TakeLast(ListedRounds / 2)] : [.. rounds];
        foreach (var r in listed)
        {
            if (r is null)
                text.AppendLine(Invariant, $"| … | | | | | | | {rounds.Count - ListedRounds} more rounds in rounds.csv |");
            else
                text.AppendLine(Invariant, $"| {r.Round} | {r.Parts.Length} | {r.Tokens:N0} | {Number(r.Seconds, "F2")} | {Number(r.Tokens / r.Seconds, "N0")} | {Number(r.MeanLoss, "F4")} | {Number(MeanMaxVio(r), "F3")} | {Number(r.WorstMaxVio, "F3")} |");
        }
        text.AppendLine();

        if (plots.Count > 0)
        {
            text.AppendLine("## Plots").AppendLine();
            foreach (var plot in plots)
                text.AppendLine(Invariant, $"![{Path.GetFileNameWithoutExtension(plot)}]({plot})").AppendLine();
        }
        return text.ToString();
    }

    /// <summary>One row per round: figures of the round, then MaxVio_batch of each MoE layer (mean over trainers and steps).</summary>
    public static string RoundsCsv(JobHistory history)
    {
        var layers = history.Spec.MoeLayers;
        var text = new StringBuilder("round,committed_at,seconds,trainers,tokens,tokens_per_second,loss,perplexity,maxvio_mean,maxvio_worst,q_wait_share,q_staleness");
        for (var layer = 0; layer < layers; layer++)
            text.Append(Invariant, $",maxvio_layer_{layer}");
        text.AppendLine();
        foreach (var (r, k) in history.Rounds.Select((r, k) => (r, k)))
        {
            text.Append(Invariant,
                $"{r.Round},{Timestamp(r.CommittedAt)},{r.Seconds:G6},{r.Parts.Length},{r.Tokens},{r.Tokens / r.Seconds:G6},{r.MeanLoss:G6},{Math.Exp(r.MeanLoss):G6},{MeanMaxVio(r):G6},{r.WorstMaxVio:G6},{r.WaitShare:G6},{StalenessBound.After(history.Spec, history.Rounds.Take(k))}");
            foreach (var value in LayerMaxVio(r, layers))
                text.Append(Invariant, $",{value:G6}");
            text.AppendLine();
        }
        return text.ToString();
    }

    /// <summary>One row per trainer per round: who was slow, who waited for q, who ran stale.</summary>
    public static string PartsCsv(JobHistory history)
    {
        var text = new StringBuilder("round,trainer,tokens,loss,step_seconds,wait_seconds,tokens_per_second,stale_steps,maxvio_mean,maxvio_worst\n");
        foreach (var r in history.Rounds)
        {
            foreach (var p in r.Parts)
            {
                text.AppendLine(Invariant,
                    $"{r.Round},{Csv(p.TrainerId)},{p.Tokens},{p.MeanLoss:G6},{p.StepSeconds:G6},{p.WaitSeconds:G6},{p.TokensPerSecond:G6},{p.StaleSteps},{p.MeanMaxVio:G6},{p.WorstMaxVio:G6}");
            }
        }
        return text.ToString();
    }

    /// <summary>MaxVio_batch of each MoE layer in a round, averaged over the trainers that measured it.</summary>
    public static double[] LayerMaxVio(RoundCommittedEvent round, int layers)
    {
        var measured = round.Parts.Where(p => p.LayerMaxVio.Length == layers).ToList();
        return [.. Enumerable.Range(0, layers).Select(l => measured.Count == 0 ? double.NaN : measured.Average(p => p.LayerMaxVio[l]))];
    }

    private static double MeanMaxVio(RoundCommittedEvent round) => round.Parts.Average(p => p.MeanMaxVio);

    private static void Row(StringBuilder text, string name, string value) => text.AppendLine(Invariant, $"| {name} | {value} |");

    private static string Number(double value, string format) => double.IsFinite(value) ? value.ToString(format, Invariant) : "-";

    private static string Seconds(double seconds) => double.IsFinite(seconds)
        ? TimeSpan.FromSeconds(Math.Round(seconds)).ToString("c", Invariant) + $" ({seconds.ToString("F1", Invariant)} s)"
        : "-";

    private static string Timestamp(DateTime at) => at == default ? "" : at.ToString("O", Invariant);

    // Trainer ids are host:port/name; quote anyway should one ever hold a comma.
    private static string Csv(string value) => value.Contains(',', StringComparison.Ordinal) ? $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : value;
}
