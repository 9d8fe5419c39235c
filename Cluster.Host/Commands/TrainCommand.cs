using System.CommandLine;
using Akka.Actor;
using Moe.Actors.Balancing;
using Moe.Actors.Hosting;
using Moe.Actors.Training;
using Moe.Cluster.Host.Configuration;
using Moe.Cluster.Host.Hosting;
using Spectre.Console;

namespace Moe.Cluster.Host.Commands;

/// <summary>
/// `train`: the whole job in one process on embedded defaults: the coordinator, the layer balancers and the local
/// trainers (one per GPU, else one per core) in a one-node cluster, SQLite and blobs under the data directory,
/// the Brown Corpus, BIP routing. Ctrl-C stops after persisting; the same command again resumes the job. Either way
/// it ends with the job's report (see `report`).
/// </summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var config = CommonOptions.Config();
        var job = new JobOptions("Job id; running it again resumes the job (default: train-PRESET).");
        var dataDirectory = CommonOptions.DataDirectory();
        var device = CommonOptions.Device();
        var http = CommonOptions.Http();
        var trainers = CommonOptions.Trainers();

        var command = new Command("train", "Run a whole training job in this process: coordinator, layer balancers and local trainers.")
        {
            config, dataDirectory, device, trainers, http,
        };
        job.AddTo(command);
        command.SetAction(async (result, cancellation) =>
        {
            var error = result.InvocationConfiguration.Error;
            NodeSettings node;
            StartJob start;
            int localTrainers;
            try
            {
                var flags = job.Set(new Flags(), result)
                    .Set("Node:Port", 0) // one process: no other node needs to find it
                    .Set("Node:DataDirectory", result.GetValue(dataDirectory))
                    .Set("Trainer:Count", result.GetValue(trainers))
                    .Set("Trainer:Device", result.GetValue(device))
                    .Set("Node:HttpUrl", result.GetValue(http));
                var configuration = HostConfiguration.Build(result.GetValue(config), flags.Values);
                node = HostConfiguration.Node(configuration, new TrainerSettings { Count = 0 }) with { Roles = NodeRoles.All, Seeds = [] }; // the whole machine
                start = HostConfiguration.Job(configuration, new JobSpec
                {
                    JobId = $"train-{configuration["Job:Preset"] ?? "small-16e"}",
                    OverlapSteps = DevicePolicy.DefaultOverlapSteps(node.Trainer.Device, DevicePolicy.Gpus),
                });
                localTrainers = DevicePolicy.Trainers(node.Trainer, DevicePolicy.Gpus, Environment.ProcessorCount).Count;
                if (start.Spec.TextPath is { } text && !File.Exists(text) && !Directory.Exists(text))
                    throw new ArgumentException($"Job:TextPath (--text) {text} does not exist: give a .txt file, a folder of .txt files or a .jsonl file.");
            }
            catch (ArgumentException e)
            {
                await error.WriteLineAsync($"error: {Cli.Describe(e)}");
                return ExitCodes.BadInput;
            }
            // The plan of the shape that will train: a resumed job's is the one it recorded.
            var (memory, problem) = PlanCommand.Fit(await Recorded(node, start.Spec.JobId) ?? start.Spec.Resolve(), node);
            if (problem is not null)
            {
                await error.WriteLineAsync($"error: {problem}");
                return ExitCodes.BadInput;
            }
            var output = result.InvocationConfiguration.Output;
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
            return await Run(console, output, error, node, start, localTrainers, memory, cancellation);
        });
        return command;
    }

    /// <summary>The job of this id the data directory records, if any (a resume).</summary>
    private static async Task<JobSpec?> Recorded(NodeSettings node, string jobId)
    {
        if (node.Persistence.Provider != PersistenceProvider.Sqlite)
            return null;
        try
        {
            var history = await JobRecords.ReadAsync(node, CancellationToken.None);
            return history.Spec.JobId == jobId ? history.Spec : null;
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
        {
            return null; // no job yet, or a damaged journal, which the coordinator then names
        }
    }

    private static async Task<int> Run(IAnsiConsole console, TextWriter output, TextWriter error, NodeSettings settings, StartJob start, int localTrainers,
        IReadOnlyList<string> memory, CancellationToken cancellation)
    {
        var job = start.Spec;
        console.MarkupLineInterpolated($"Job [bold]{job.JobId}[/]: preset {job.Preset}, {job.Rounds} rounds x {job.InnerSteps} inner steps, {localTrainers} local trainers, data in {Path.GetFullPath(settings.DataDirectory)}");
        foreach (var line in memory)
            console.MarkupLineInterpolated($"Memory plan, {line}");
        await using var node = await RunningNode.StartAsync(settings, "WARNING", cancellation);
        using var running = CancellationTokenSource.CreateLinkedTokenSource(cancellation, node.Failed); // a permanent failure ends the job
        var coordinator = node.Registry.Get<TrainingCoordinatorKey>();
        JobStatus status;
        try
        {
            await node.WaitUpAsync(TimeSpan.FromSeconds(60), running.Token);
            status = await JobClient.StartAsync(coordinator, start, running.Token);
        }
        catch (JobRefusedException e)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.BadInput;
        }
        catch (OperationCanceledException) when (node.Failed.IsCancellationRequested)
        {
            await node.ThrowIfFailed();
            throw;
        }
        if (status.CommittedRounds > 0)
            console.MarkupLineInterpolated($"Resuming at round {status.CommittedRounds} of {status.TotalRounds}.");

        var finished = await Follow(console, coordinator, node.Registry.Get<LayerBalancerRegion>(), job, status, running.Token);
        await node.ThrowIfFailed();
        if (finished.Problem is { } problem)
        {
            await node.DisposeAsync();
            await error.WriteLineAsync($"error: {problem}");
            return ExitCodes.BadInput;
        }
        if (finished.Finished)
        {
            console.MarkupLineInterpolated($"Job {job.JobId} finished: {finished.CommittedRounds} rounds, last loss {finished.LastLoss:F4} (perplexity {Math.Exp(finished.LastLoss):F1}).");
        }
        else
        {
            console.MarkupLine("Stopping: the coordinator and balancers persist what was committed ...");
        }
        await node.DisposeAsync();
        if (!finished.Finished)
            console.MarkupLineInterpolated($"Stopped. Run the same command again to resume job {job.JobId}.");

        // From the journal, as `report` and `export` do: what was committed, nothing else.
        var history = await JobRecords.ReadAsync(settings, CancellationToken.None);
        if (finished.Finished)
            await WriteModel(output, error, settings, history);
        await ReportCommand.Print(output, settings, history, ReportCommand.Write(settings, history, ReportCommand.DefaultFolder(settings, job.JobId)));
        return finished.Finished ? ExitCodes.Success : ExitCodes.Interrupted; // the command line tells SIGTERM apart
    }

    // The job succeeded whatever happens here: a model folder that cannot be written is a warning, not a failure.
    private static async Task WriteModel(TextWriter output, TextWriter error, NodeSettings settings, JobHistory history)
    {
        string model;
        try
        {
            model = await ModelExport.WriteAsync(history, settings.CreateBlobStore(), ModelExport.DefaultFolder(settings.DataDirectory, history.Spec.JobId), CancellationToken.None);
        }
        catch (Exception e) when (ModelExport.IsExpected(e))
        {
            await error.WriteLineAsync($"warning: the model folder was not written: {e.Message}");
            return;
        }
        // Straight to the writer: the console wraps at its width, which would break the path in two.
        await output.WriteLineAsync($"Model folder: {model}");
        await output.WriteLineAsync($"  Cluster.Host generate --model {model} --prompt \"The\"");
        await output.WriteLineAsync(history.Spec.TextPath is null
            ? $"  Cluster.Host eval --model {model} --data-dir {settings.DataDirectory}"
            : $"  Cluster.Host eval --model {model} --text HELD-OUT-TEXT");
    }

    private static async Task<JobStatus> Follow(IAnsiConsole console, IActorRef coordinator, IActorRef balancers, JobSpec job, JobStatus start,
        CancellationToken cancellation)
    {
        var last = start;
        await console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var rounds = context.AddTask("rounds", maxValue: start.TotalRounds);
                // Steps as the first layer's balancer has committed them: every trainer took part in those.
                var steps = context.AddTask("steps", maxValue: (double)job.Rounds * job.InnerSteps);
                while (!cancellation.IsCancellationRequested)
                {
                    try
                    {
                        last = await coordinator.Ask<JobStatus>(GetJobStatus.Instance, TimeSpan.FromSeconds(5), cancellation);
                    }
                    catch (AskTimeoutException)
                    {
                        continue;
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                    rounds.Value = last.CommittedRounds;
                    rounds.Description = Describe(last);
                    if (await StepOf(balancers, job, cancellation) is { } step)
                    {
                        steps.Value = step;
                        steps.Description = Markup.Escape($"step {step}/{job.Rounds * job.InnerSteps}");
                    }
                    if (last.Finished || last.Problem is not null)
                        break;
                    try
                    {
                        await Task.Delay(500, cancellation);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
            });
        return last;
    }

    private static async Task<long?> StepOf(IActorRef balancers, JobSpec job, CancellationToken cancellation)
    {
        try
        {
            var status = await balancers.Ask<BalancerStatus>(new GetBalancerStatus(job.JobId, 0), TimeSpan.FromSeconds(2), cancellation);
            return status.Step + 1;
        }
        catch (Exception e) when (e is AskTimeoutException or OperationCanceledException)
        {
            return null;
        }
    }

    private static string Describe(JobStatus s) => s.CommittedRounds == 0 || double.IsNaN(s.LastRoundSeconds)
        ? Markup.Escape($"round {s.CommittedRounds}/{s.TotalRounds}, {s.Members.Length} trainers")
        : Markup.Escape($"round {s.CommittedRounds}/{s.TotalRounds}, loss {s.LastLoss:F3}, {s.LastTokens / s.LastRoundSeconds:N0} tok/s, worst MaxVio {s.LastWorstMaxVio:F3}, {s.Members.Length} trainers");

}
