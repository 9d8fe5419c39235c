using Moe.Actors.Training;
using Moe.Model.Data;
using ScottPlot;

namespace Moe.Cluster.Host.Reports;

/// <summary>PNG plots of a job, one point per committed round: loss, MaxVio per layer, throughput per trainer.</summary>
public static class JobPlots
{
    public static IReadOnlyList<string> Write(JobHistory history, string folder)
    {
        var rounds = history.Rounds;
        double[] x = [.. rounds.Select(r => (double)r.Round)];
        var title = $"{history.Spec.JobId} ({history.Spec.Preset})";

        var loss = new Plot();
        Line(loss, x, [.. rounds.Select(r => r.MeanLoss)], "mean training loss of the round");
        var lossPath = Save(loss, $"{title}: training loss", "cross-entropy", "loss.png", folder);

        var balance = new Plot();
        for (var layer = 0; layer < history.Spec.MoeLayers; layer++)
            Line(balance, x, [.. rounds.Select(r => JobReport.LayerMaxVio(r, history.Spec.MoeLayers)[layer])], $"MoE layer {layer} (mean)");
        Line(balance, x, [.. rounds.Select(r => r.WorstMaxVio)], "worst layer and step").LinePattern = LinePattern.Dashed;
        var balancePath = Save(balance, $"{title}: expert load imbalance", "MaxVio_batch", "maxvio.png", folder);

        // One line per trainer: a straggler's line sits below the others; a gap is a round it missed.
        var throughput = new Plot();
        foreach (var trainer in rounds.SelectMany(r => r.Parts).Select(p => p.TrainerId).Distinct().Order(StringComparer.Ordinal))
        {
            var parts = rounds.SelectMany(r => r.Parts.Where(p => p.TrainerId == trainer).Select(p => (r.Round, p.TokensPerSecond))).ToList();
            Line(throughput, [.. parts.Select(p => (double)p.Round)], [.. parts.Select(p => p.TokensPerSecond)], trainer).MarkerSize = 4;
        }
        Line(throughput, x, [.. rounds.Select(r => r.Tokens / r.Seconds)], "whole round (all trainers, wall time)").LinePattern = LinePattern.Dashed;
        var throughputPath = Save(throughput, $"{title}: throughput", "tokens/s", "throughput.png", folder);

        return [lossPath, balancePath, throughputPath];
    }

    private static ScottPlot.Plottables.Scatter Line(Plot plot, double[] x, double[] y, string label)
    {
        var line = plot.Add.Scatter(x, y);
        line.MarkerSize = x.Length > 60 ? 0 : 3;
        line.LineWidth = 1.5f;
        line.LegendText = label;
        return line;
    }

    private static string Save(Plot plot, string title, string yLabel, string file, string folder)
    {
        plot.Title(title);
        plot.XLabel("round");
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.UpperRight);
        var path = Path.Combine(folder, file);
        // Rendered to memory first so a half-written PNG never sits under the final name.
        AtomicFile.Write(path, plot.GetImageBytes(1000, 560, ImageFormat.Png));
        return path;
    }
}
