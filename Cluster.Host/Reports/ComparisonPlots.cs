using Moe.Model.Routing;
using Moe.Model.Training;
using ScottPlot;

namespace Moe.Cluster.Host.Reports;

/// <summary>PNG plots of a comparison: MaxVio_batch per step (layer mean and worst layer) and training loss.</summary>
public static class ComparisonPlots
{
    public static IReadOnlyList<string> Write(IReadOnlyList<MethodRun> runs, string directory, string title)
    {
        return
        [
            Line(runs, s => s.MeanMaxVio, "MaxVio_batch (mean over MoE layers)", $"{title}: expert load imbalance per step", Path.Combine(directory, "maxvio-mean.png")),
            Line(runs, s => s.WorstMaxVio, "MaxVio_batch (worst MoE layer)", $"{title}: worst layer's imbalance per step", Path.Combine(directory, "maxvio-worst.png")),
            Line(runs, s => s.Loss, "training loss (cross-entropy)", $"{title}: training loss", Path.Combine(directory, "loss.png")),
        ];
    }

    private static string Line(IReadOnlyList<MethodRun> runs, Func<StepMetrics, double> value, string yLabel, string title, string path) =>
        Lines(runs.Select(run => (run.Method.Name, run.Steps.Select(s => (double)s.Step + 1).ToArray(), run.Steps.Select(value).ToArray())), yLabel, title, path);

    /// <summary>One line per method over the steps, saved as a PNG at <paramref name="path"/>.</summary>
    public static string Lines(IEnumerable<(string Label, double[] Steps, double[] Values)> lines, string yLabel, string title, string path)
    {
        var plot = new Plot();
        foreach (var (label, steps, values) in lines)
        {
            var line = plot.Add.Scatter(steps, values);
            line.MarkerSize = 0;
            line.LineWidth = 1.5f;
            line.LegendText = label;
        }
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 1000, 560);
        return path;
    }
}
