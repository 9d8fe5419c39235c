using System.Globalization;
using System.Text;
using Moe.Model.Routing;
using Moe.Model.Training;

namespace Moe.Cluster.Host.Reports;

/// <summary>The comparison as Markdown and CSV: one row per method, plus every step of every run.</summary>
public static class ComparisonReport
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static readonly string[] Columns =
    [
        "method", "val ppl", "AvgMaxVio_batch", "SupMaxVio_batch", "SupMaxVio_batch (worst layer)",
        "MaxVio_global", "dead experts", "dropped %", "step ms", "step time / topk", "tokens/s",
    ];

    public static string[] Cells(MethodSummary s) =>
    [
        s.Method.Name,
        s.ValidationPerplexity.ToString("F2", Invariant),
        s.AvgMaxVioBatch.ToString("F3", Invariant),
        s.SupMaxVioBatch.ToString("F3", Invariant),
        s.WorstLayerSupMaxVioBatch.ToString("F3", Invariant),
        s.MaxVioGlobal.ToString("F3", Invariant),
        s.DeadExperts.ToString(Invariant),
        (s.DroppedShare * 100).ToString("F2", Invariant),
        (s.MeanStepSeconds * 1000).ToString("F1", Invariant),
        double.IsNaN(s.StepTimeRatioToTopK) ? "-" : s.StepTimeRatioToTopK.ToString("F3", Invariant),
        s.TokensPerSecond.ToString("F0", Invariant),
    ];

    public static string Markdown(IReadOnlyList<MethodSummary> summaries, string title) =>
        $"## {title}\n\n" + MarkdownTable(Columns, summaries.Select(Cells));

    /// <summary>A Markdown table: the first column left-aligned (names), the others right-aligned (figures).</summary>
    public static string MarkdownTable(IReadOnlyList<string> columns, IEnumerable<string[]> rows)
    {
        var text = new StringBuilder();
        text.AppendLine("| " + string.Join(" | ", columns) + " |");
        text.AppendLine("|" + string.Concat(columns.Select((_, k) => k == 0 ? "---|" : "---:|")));
        foreach (var row in rows)
            text.AppendLine("| " + string.Join(" | ", row) + " |");
        return text.ToString();
    }

    public static string Csv(IReadOnlyList<MethodSummary> summaries) =>
        string.Join('\n', [string.Join(',', Columns), .. summaries.Select(s => string.Join(',', Cells(s)))]) + "\n";

    /// <summary>Every step: method, step, loss, learning rate, step seconds, mean and worst-layer MaxVio_batch.</summary>
    public static string StepsCsv(IReadOnlyList<MethodRun> runs)
    {
        var text = new StringBuilder("method,step,loss,learning_rate,step_seconds,maxvio_batch_mean,maxvio_batch_worst,dropped\n");
        foreach (var run in runs)
        {
            foreach (var s in run.Steps)
            {
                text.AppendLine(Invariant,
                    $"{run.Method.Name},{s.Step},{s.Loss:G6},{s.LearningRate:G6},{s.Duration.TotalSeconds:G6},{s.MeanMaxVio:G6},{s.WorstMaxVio:G6},{s.Layers.Sum(l => l.Dropped)}");
            }
        }
        return text.ToString();
    }
}
