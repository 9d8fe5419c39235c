using System.CommandLine;
using Moe.Actors.Training;
using Moe.Cluster.Host.Configuration;
using Moe.Cluster.Host.Reports;
using Moe.Model.Data;
using Moe.Model.Network;
using Moe.Model.Parallelism;
using Moe.Model.Routing;
using Moe.Model.Training;
using Spectre.Console;

namespace Moe.Cluster.Host.Commands;

/// <summary>
/// `compare`: trains the same model on the same data, seed and token budget once per routing method, side by
/// side, and writes the comparison table (console, Markdown, CSV), every step's figures and PNG plots.
/// </summary>
public static class CompareCommand
{
    private static readonly RouterKind[] DefaultMethods =
        [RouterKind.TopK, RouterKind.LossControlled, RouterKind.LossFree, RouterKind.Bip, RouterKind.QuantileBalancing];

    public static Command Create()
    {
        var preset = new Option<string>("--preset")
        {
            Description = $"Model preset: {string.Join(", ", ModelPresets.All.Select(p => $"{p.Name} ({p.Description})"))}.",
            DefaultValueFactory = _ => "small-16e",
        };
        preset.AcceptOnlyFromAmong([.. ModelPresets.All.Select(p => p.Name)]);
        var methods = new Option<string>("--methods")
        {
            Description = "Comma-separated routing methods to compare (topk, losscontrolled, lossfree, bip, qb); ROUTER:cf=F drops tokens beyond capacity factor F (topk:cf=1.25); bip and qb take clip=both|p|q|none and solve=before|after (bip:clip=q).",
            DefaultValueFactory = _ => string.Join(',', DefaultMethods.Select(m => m.ShortName())),
        };
        var seed = new Option<int>("--seed") { Description = "Seed of initialisation and data order.", DefaultValueFactory = _ => 1 };
        var steps = new Option<int?>("--steps") { Description = "Training steps per method (default: the preset's)." };
        var text = new Option<string?>("--text") { Description = "Train on this .txt file, folder of .txt files or .jsonl file instead of the Brown Corpus." };
        var dataDirectory = new Option<string>("--data-dir") { Description = "Cache of corpora and tokenised data.", DefaultValueFactory = _ => "data" };
        var iterations = new Option<int?>("--iterations", "-T") { Description = $"Dual iterations T of bip and qb per step (default {RouterConfig.DefaultIterations})." };
        var device = new Option<string>("--device") { Description = "auto (a GPU when TorchSharp finds one), cpu, cuda or cuda:N.", DefaultValueFactory = _ => "auto" };
        var output = new Option<string?>("--out") { Description = "Folder for the report (default: runs/compare-PRESET-seedN)." };
        var ep = new Option<string?>("--ep") { Description = "Expert-parallel degrees to model, e.g. 4,8,16 (default: 4, 8 and 16 up to 16 experts; 8 and m beyond)." };
        var merge = new Option<string?>("--merge")
        {
            Description = "Instead of training: join the reports in these folders (comma-separated; runs of one preset, seed, steps and T) into --out.",
        };
        var epSetup = new Option<string?>("--ep-setup")
        {
            Description = "The modelled deployment over its H800 defaults: flops, efficiency, ranks-per-node, intra, inter (bytes/s), latency (s), bytes, dim, hidden, tokens (per rank), e.g. inter=25e9,tokens=8192.",
        };

        var shape = new ModelShapeOptions();

        var command = new Command("compare", "Train one model per routing method side by side and compare balance, perplexity and speed.")
        {
            preset, methods, seed, steps, iterations, text, dataDirectory, device, output, ep, epSetup, merge,
        };
        shape.AddTo(command);
        command.SetAction((result, cancellation) =>
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(result.InvocationConfiguration.Output) });
            if (!console.Profile.Capabilities.Interactive)
                console.Profile.Width = 160; // logs and files: room for the whole table
            try
            {
                if (result.GetValue(merge) is { } folders)
                {
                    var into = result.GetValue(output) ?? throw new ArgumentException("--merge needs --out, the folder of the joined report.");
                    var files = ComparisonMerge.Write([.. folders.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)], into);
                    console.MarkupLineInterpolated($"Report: {Path.GetFullPath(into)} ({string.Join(", ", files)})");
                    return Task.FromResult(ExitCodes.Success);
                }
                var chosen = Shaped(ModelPresets.Get(result.GetValue(preset)!), shape.Set(new Flags(), result));
                if (result.GetValue(iterations) is { } t)
                    chosen = chosen with { Model = chosen.Model with { BalanceIterations = t } };
                var kinds = result.GetValue(methods)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(ComparedMethod.Parse).ToArray();
                var training = chosen.Training with
                {
                    Seed = result.GetValue(seed),
                    Steps = result.GetValue(steps) ?? chosen.Training.Steps,
                    Device = result.GetValue(device)!,
                };
                training.Validate();
                var folder = result.GetValue(output) ?? Path.Combine("runs", $"compare-{chosen.Name}-seed{training.Seed}");
                var degrees = result.GetValue(ep) is { } list
                    ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(e => int.TryParse(e, out var n) ? n : throw new ArgumentException($"--ep: \"{e}\" is not a number.")).ToArray()
                    : ExpertParallelRun.DefaultRanks(chosen.Model.Experts);
                var parallel = (Degrees: degrees, Setup: ExpertParallelReport.ParseSetup(result.GetValue(epSetup)));
                if (degrees.FirstOrDefault(e => e < 1 || chosen.Model.Experts % e != 0) is var bad and not 0)
                    throw new ArgumentException($"--ep {bad}: an expert-parallel degree must divide the {chosen.Model.Experts} experts.");
                Run(console, chosen, training, kinds, result.GetValue(text), result.GetValue(dataDirectory)!, folder, parallel, cancellation);
                return Task.FromResult(ExitCodes.Success);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException)
            {
                result.InvocationConfiguration.Error.WriteLine($"error: {Cli.Describe(e)}");
                return Task.FromResult(e is ArgumentException ? ExitCodes.BadInput : ExitCodes.Failure);
            }
        });
        return command;
    }

    /// <summary>The preset with the shape the flags give, resolved and validated as a job's is.</summary>
    private static ModelPresets.Preset Shaped(ModelPresets.Preset preset, Flags flags)
    {
        var job = HostConfiguration.Job(HostConfiguration.Build(null, flags.Values), new JobSpec { JobId = "compare", Preset = preset.Name }).Spec;
        return preset with
        {
            Model = job.Model,
            Training = preset.Training with
            {
                BatchSize = job.Training.BatchSize,
                LearningRate = job.Training.LearningRate,
                WarmupSteps = job.WarmupSteps ?? preset.Training.WarmupSteps,
                WeightDecay = job.Training.WeightDecay,
                GradientClip = job.Training.GradientClip,
            },
        };
    }

    private static void Run(IAnsiConsole console, ModelPresets.Preset preset, TrainingConfig training, ComparedMethod[] methods,
        string? text, string dataDirectory, string folder, (int[] Degrees, ExpertParallelSetup Setup) parallel, CancellationToken cancellation)
    {
        var data = Corpus.Load(text, dataDirectory, preset.Model.VocabSize, m => console.MarkupLineInterpolated($"[grey]{m}[/]"));
        var model = preset.Model with { VocabSize = data.VocabSize };
        console.MarkupLineInterpolated(
            $"Comparing {string.Join(", ", methods.Select(m => m.Name))} on [bold]{preset.Name}[/]: {training.Steps} steps of {training.BatchSize} x {model.ContextLength} tokens, seed {training.Seed}, T = {model.BalanceIterations}.");
        console.MarkupLineInterpolated($"Model: {model.Describe()}.");

        IReadOnlyList<MethodRun> runs = [];
        console.Progress()
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var tasks = methods.ToDictionary(m => m, m => context.AddTask(m.Name, maxValue: training.Steps));
                runs = Comparison.Run(model, training, data, methods, (method, step) =>
                {
                    var task = tasks[method];
                    if (step.Skipped)
                        console.MarkupLineInterpolated($"[yellow]{method.Name}: step {step.Step} skipped, its loss ({step.Loss}) or gradient norm ({step.GradientNorm}) was not finite; nothing of it took effect[/]");
                    task.Description = $"{method.Name,-15} loss {step.Loss,6:F3}  MaxVio {step.MeanMaxVio,5:F3} (worst {step.WorstMaxVio:F3})  {step.TokensPerSecond,6:F0} tok/s";
                    task.Increment(1);
                }, cancellation: cancellation);
            });

        var summaries = Comparison.Summarize(runs);
        var table = new Table().Title($"{preset.Name}, seed {training.Seed}");
        foreach (var column in ComparisonReport.Columns)
            table.AddColumn(column);
        foreach (var summary in summaries)
            table.AddRow(ComparisonReport.Cells(summary));
        console.Write(table);

        Directory.CreateDirectory(folder);
        var title = $"{preset.Name}, seed {training.Seed}, {training.Steps} steps, T = {model.BalanceIterations}";
        File.WriteAllText(Path.Combine(folder, "compare.md"), ComparisonReport.Markdown(summaries, title));
        File.WriteAllText(Path.Combine(folder, "compare.csv"), ComparisonReport.Csv(summaries));
        File.WriteAllText(Path.Combine(folder, "steps.csv"), ComparisonReport.StepsCsv(runs));
        var plots = ComparisonPlots.Write(runs, folder, $"{preset.Name}, seed {training.Seed}");

        IReadOnlyList<string> parallelFiles = [];
        if (parallel.Degrees.Length > 0)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var report = ExpertParallelReport.Of(runs, model, runs[0].Steps[0].Tokens, parallel.Degrees, parallel.Setup);
            var modelled = runs.Sum(r => r.Steps.Count) * parallel.Degrees.Length * Enum.GetValues<PlacementKind>().Length;
            var (columns, rows) = report.Table();
            var parallelTable = new Table().Title($"Modelled expert-parallel MoE time / balanced (contiguous placement); random routing's MaxVio_batch {report.RandomMaxVio:F3}");
            foreach (var column in columns)
                parallelTable.AddColumn(column);
            foreach (var row in rows)
                parallelTable.AddRow(row);
            console.Write(parallelTable);
            console.MarkupLineInterpolated($"[grey]The expert-parallel model took {clock.Elapsed.TotalMilliseconds:F0} ms for {modelled:N0} steps of loads (all MoE layers; random routing's reference included), {clock.Elapsed.TotalMilliseconds * 1000 / modelled:F1} us each.[/]");
            File.WriteAllText(Path.Combine(folder, "expert-parallel.md"), report.Markdown(title));
            File.WriteAllText(Path.Combine(folder, "expert-parallel.csv"), report.Csv());
            parallelFiles = ["expert-parallel.md", "expert-parallel.csv", Path.GetFileName(report.Plot(folder, $"{preset.Name}, seed {training.Seed}"))];
        }
        console.MarkupLineInterpolated($"Report: {Path.GetFullPath(folder)} (compare.md, compare.csv, steps.csv, {string.Join(", ", [.. plots.Select(Path.GetFileName).OfType<string>(), .. parallelFiles])})");
    }
}
