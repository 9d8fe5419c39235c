using System.Globalization;
using System.Text;
using Moe.Model.Network;
using Moe.Model.Parallelism;
using Moe.Model.Routing;
using Moe.Model.Training;

namespace Moe.Cluster.Host.Reports;

/// <summary>
/// What a comparison's balance would cost under expert parallelism (<see cref="ExpertParallelTime"/>): per method,
/// E and placement, the modelled MoE time per step against perfect balance, and the MaxVio of random routing.
/// </summary>
public sealed class ExpertParallelReport
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    private ExpertParallelReport(IReadOnlyList<(ComparedMethod Method, double MaxVio, ExpertParallelRun Run)> rows, double randomMaxVio, ExpertParallelSetup setup)
    {
        Rows = rows;
        RandomMaxVio = randomMaxVio;
        Setup = setup;
    }

    public IReadOnlyList<(ComparedMethod Method, double MaxVio, ExpertParallelRun Run)> Rows { get; }

    /// <summary>Mean MaxVio_batch of uniform random top-K routing of a step's tokens.</summary>
    public double RandomMaxVio { get; }

    public ExpertParallelSetup Setup { get; }

    public static ExpertParallelReport Of(IReadOnlyList<MethodRun> runs, MoeModelConfig model, int tokensPerStep, IReadOnlyList<int> ranks,
        ExpertParallelSetup setup)
    {
        var rows = (from run in runs
                    from e in ranks
                    from placement in Enum.GetValues<PlacementKind>()
                    select (run.Method, run.Steps.Average(s => s.MeanMaxVio), ExpertParallelRun.Of(run.Steps, model with { CapacityFactor = run.Method.CapacityFactor ?? model.CapacityFactor }, e, placement, setup))).ToList();
        return new ExpertParallelReport(rows, RandomRouting.MeanMaxVio(tokensPerStep, model.Experts, model.TopK), setup);
    }

    /// <summary>Parses "flops=989e12,efficiency=0.4,..." over the H800 defaults; unnamed constants keep theirs.</summary>
    public static ExpertParallelSetup ParseSetup(string? text)
    {
        var setup = ExpertParallelSetup.H800;
        if (string.IsNullOrWhiteSpace(text))
            return setup;
        foreach (var pair in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = pair.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || !double.TryParse(parts[1], NumberStyles.Float, Invariant, out var value))
                throw new ArgumentException($"--ep-setup: \"{pair}\" is not NAME=NUMBER.");
            setup = parts[0] switch
            {
                "flops" => setup with { FlopsPerSecond = value },
                "efficiency" => setup with { Efficiency = value },
                "ranks-per-node" => setup with { RanksPerNode = (int)value },
                "intra" => setup with { IntraNodeBytesPerSecond = value },
                "inter" => setup with { InterNodeBytesPerSecond = value },
                "latency" => setup with { LatencySeconds = value },
                "bytes" => setup with { BytesPerElement = (int)value },
                "dim" => setup with { Dim = (int)value },
                "hidden" => setup with { ExpertHidden = (int)value },
                "tokens" => setup with { TokensPerRank = (int)value },
                _ => throw new ArgumentException($"--ep-setup: unknown constant \"{parts[0]}\"; known: flops, efficiency, ranks-per-node, intra, inter, latency, bytes, dim, hidden, tokens."),
            };
        }
        setup.Validate();
        return setup;
    }

    /// <summary>The table: per method, AvgMaxVio_batch and, per E, the mean and worst relative MoE time (contiguous placement).</summary>
    public (string[] Columns, string[][] Rows) Table()
    {
        var degrees = Rows.Select(r => r.Run.Ranks).Distinct().ToArray();
        string[] columns = ["method", "AvgMaxVio_batch", .. degrees.SelectMany(e => new[] { $"E={e} mean", $"E={e} worst" })];
        var rows = Rows.Where(r => r.Run.Placement == PlacementKind.Contiguous).GroupBy(r => r.Method).Select(g =>
            (string[])[g.Key.Name, g.First().MaxVio.ToString("F3", Invariant),
                .. degrees.SelectMany(e => g.Where(r => r.Run.Ranks == e).SelectMany(r => new[] { r.Run.Mean.ToString("F3", Invariant), r.Run.Worst.ToString("F3", Invariant) }))]).ToArray();
        return (columns, rows);
    }

    public string Markdown(string title)
    {
        var (columns, rows) = Table();
        return $"## {title}: modelled expert-parallel MoE time per step, relative to perfect balance\n\n" +
               $"Contiguous placement; {Setup}. Random top-K routing of a step's tokens would show MaxVio_batch {RandomMaxVio.ToString("F3", Invariant)}.\n\n" +
               ComparisonReport.MarkdownTable(columns, rows);
    }

    /// <summary>Every method, E and placement: mean and worst relative time.</summary>
    public string Csv()
    {
        var text = new StringBuilder("method,ranks,placement,avg_maxvio_batch,relative_time_mean,relative_time_worst\n");
        foreach (var (method, maxVio, run) in Rows)
            text.AppendLine(Invariant, $"{method.Name},{run.Ranks},{run.Placement},{maxVio:G6},{run.Mean:G6},{run.Worst:G6}");
        return text.ToString();
    }

    /// <summary>The relative time per step at the largest E, contiguous placement, one line per method.</summary>
    public string Plot(string directory, string title)
    {
        var ranks = Rows.Max(r => r.Run.Ranks);
        var lines = Rows.Where(r => r.Run.Ranks == ranks && r.Run.Placement == PlacementKind.Contiguous)
            .Select(r => (r.Method.Name, Enumerable.Range(1, r.Run.RelativeTime.Length).Select(x => (double)x).ToArray(), r.Run.RelativeTime));
        return ComparisonPlots.Lines(lines, "MoE time / balanced", $"{title}: modelled MoE time at E = {ranks}, relative to balance",
            Path.Combine(directory, "expert-parallel.png"));
    }
}
