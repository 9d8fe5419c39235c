using System.CommandLine;
using Akka.Actor;
using Microsoft.Extensions.Configuration;
using Moe.Actors.Blobs;
using Moe.Actors.Hosting;
using Moe.Actors.Training;
using Moe.Cluster.Host.Configuration;
using Moe.Cluster.Host.Hosting;

namespace Moe.Cluster.Host.Commands;

/// <summary>`node`: one member of a multi-process or multi-machine cluster, until Ctrl-C or SIGTERM.</summary>
public static class NodeCommand
{
    public static Command Create()
    {
        var config = CommonOptions.Config();
        var roles = new Option<string?>("--roles") { Description = $"Comma-separated roles of this node: {string.Join(", ", NodeRoles.All)} (default: all)." };
        var seeds = new Option<string[]>("--seed") { Description = "HOST:PORT of a seed node (repeat for several); none: this node forms a new cluster.", AllowMultipleArgumentsPerToken = false };
        var host = new Option<string?>("--host") { Description = "Address to bind Akka.Remote to (default 127.0.0.1)." };
        var publicHost = new Option<string?>("--public-host") { Description = "Address other nodes use to reach this one, when it differs from --host." };
        var port = new Option<int?>("--port") { Description = "Akka.Remote port (default 4053; 0 picks a free one)." };
        var dataDirectory = CommonOptions.DataDirectory();
        var postgres = CommonOptions.Postgres();
        var blobs = CommonOptions.Blobs();
        var serveBlobs = new Option<string?>("--serve-blobs") { Description = "Serve this node's blob directory over HTTP at this address, e.g. http://0.0.0.0:8080." };
        var device = CommonOptions.Device();
        var http = CommonOptions.Http();
        var jobOptions = new JobOptions("Start (or resume) this job once the node is up; needs a coordinator in the cluster. The Job section of the settings does the same; the other job options describe it.");
        var trainers = CommonOptions.Trainers();

        var command = new Command("node", "Join (or form) a cluster with the given roles and run until stopped.")
        {
            config, roles, seeds, host, publicHost, port, dataDirectory, postgres, blobs, serveBlobs, device, trainers, http,
        };
        jobOptions.AddTo(command);
        command.SetAction(async (result, cancellation) =>
        {
            var output = result.InvocationConfiguration.Output;
            var error = result.InvocationConfiguration.Error;
            NodeSettings settings;
            StartJob? job = null;
            try
            {
                var flags = jobOptions.Set(new Flags(), result)
                    .List("Node:Roles", result.GetValue(roles)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    .List("Node:Seeds", result.GetValue(seeds))
                    .Set("Node:Hostname", result.GetValue(host))
                    .Set("Node:PublicHostname", result.GetValue(publicHost))
                    .Set("Node:Port", result.GetValue(port))
                    .Set("Node:DataDirectory", result.GetValue(dataDirectory))
                    .Set("Trainer:Device", result.GetValue(device))
                    .Set("Node:HttpUrl", result.GetValue(http))
                    .Set("Trainer:Count", result.GetValue(trainers))
                    .Set("Blobs:ServeUrl", result.GetValue(serveBlobs))
                    .Postgres(result.GetValue(postgres))
                    .Blobs(result.GetValue(blobs));
                var configuration = HostConfiguration.Build(result.GetValue(config), flags.Values);
                settings = HostConfiguration.Node(configuration);
                if (!settings.Has(NodeRoles.Coordinator) && jobOptions.Shape.Given(result).ToList() is [_, ..] shape)
                {
                    throw new ArgumentException($"{string.Join(", ", shape)} shape a job's model, which comes from the coordinator: give them to the node " +
                        "with the coordinator role (or to train), not to this one.");
                }
                if (settings.Has(NodeRoles.Trainer))
                    _ = DevicePolicy.Trainers(settings.Trainer, DevicePolicy.Gpus, Environment.ProcessorCount); // refuses more trainers than GPUs
                if (configuration.GetSection("Job").Exists())
                    job = HostConfiguration.Job(configuration, new JobSpec { JobId = "job" });
                if (job is not null && settings.Blobs is { ServeUrl: not null, MaxUploadBytes: null })
                    settings = settings with { Blobs = settings.Blobs with { MaxUploadBytes = BlobStoreSettings.UploadLimitFor(job.Spec.Model.ParameterCount) } };
                if (job is not null && !settings.Has(NodeRoles.Coordinator) && settings.Seeds.Count == 0 && settings.Discovery.Method != DiscoveryMethod.Kubernetes)
                {
                    await error.WriteLineAsync($"warning: this node has no coordinator role and no --seed, so it forms a cluster of its own where job {job.Spec.JobId} " +
                        "cannot start: give --seed HOST:PORT of a node with the coordinator role.");
                }
            }
            catch (ArgumentException e)
            {
                await error.WriteLineAsync($"error: {Cli.Describe(e)}");
                return ExitCodes.BadInput;
            }

            await using var node = await RunningNode.StartAsync(settings, "INFO", cancellation);
            await output.WriteLineAsync($"Node {node.Address} with roles [{string.Join(", ", settings.Roles)}] " +
                (settings.Discovery.Method == DiscoveryMethod.Kubernetes ? $"looks for its peers ({settings.Discovery.PodLabelSelector}) through the Kubernetes API."
                : settings.Seeds.Count == 0 ? "forms a new cluster."
                : $"joins the cluster of {string.Join(", ", settings.Seeds)}."));
            using var running = CancellationTokenSource.CreateLinkedTokenSource(cancellation, node.Failed); // a permanent failure ends the node
            try
            {
                await node.WaitUpAsync(TimeSpan.FromMinutes(2), running.Token);
                await output.WriteLineAsync("Member of the cluster. Ctrl-C or SIGTERM leaves it cleanly.");
                if (job is not null)
                    await FollowJobOrReport(node, job, output, error, running.Token);
                await Task.Delay(Timeout.Infinite, running.Token);
            }
            catch (OperationCanceledException)
            {
                await node.ThrowIfFailed();
            }
            catch (InvalidOperationException e)
            {
                await error.WriteLineAsync($"error: {e.Message}");
                return ExitCodes.Failure;
            }
            await output.WriteLineAsync("Leaving the cluster (coordinated shutdown) ...");
            await node.DisposeAsync();
            await output.WriteLineAsync("Stopped.");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// A refused job (changed settings, another job) is reported but the node stays: it holds part of the cluster
    /// (balancer shards, the coordinator), and on Kubernetes exiting would crash-loop every coordinator pod.
    /// </summary>
    private static async Task FollowJobOrReport(RunningNode node, StartJob job, TextWriter output, TextWriter error, CancellationToken cancellation)
    {
        try
        {
            await FollowJob(node, job, output, cancellation);
        }
        catch (JobRefusedException e)
        {
            await error.WriteLineAsync($"error: job {job.Spec.JobId} refused: {e.Message}. This node stays in the cluster; fix the Job settings and restart it.");
        }
    }

    /// <summary>Starts or resumes the job, reports each committed round on one line, and the end of the job.</summary>
    private static async Task FollowJob(RunningNode node, StartJob job, TextWriter output, CancellationToken cancellation)
    {
        var coordinator = node.Registry.Get<TrainingCoordinatorKey>();
        var status = await JobClient.StartAsync(coordinator, job, cancellation);
        var jobId = job.Spec.JobId;
        await output.WriteLineAsync($"Job {jobId}: round {status.CommittedRounds} of {status.TotalRounds}.");
        var reported = status.CommittedRounds;
        while (!status.Finished && status.Problem is null)
        {
            await Task.Delay(1000, cancellation);
            try
            {
                status = await coordinator.Ask<JobStatus>(GetJobStatus.Instance, TimeSpan.FromSeconds(5), cancellation);
            }
            catch (Akka.Actor.AskTimeoutException)
            {
                continue; // the coordinator is moving to another node
            }
            if (status.CommittedRounds != reported)
            {
                reported = status.CommittedRounds;
                await output.WriteLineAsync($"Job {jobId}: round {status.CommittedRounds} of {status.TotalRounds}, loss {status.LastLoss:F4}, trainers {string.Join(" ", status.LastContributors)}");
            }
        }
        if (status.Problem is { } problem)
            throw new JobRefusedException(problem); // reported like a refusal: the node stays
        await output.WriteLineAsync($"Job {jobId} finished: {status.CommittedRounds} rounds.");
        // The node that started the job writes its model folder, from the journal as `export` does. A node whose
        // database is not the job's (SQLite elsewhere) says so and stays: the job itself succeeded.
        try
        {
            var history = await JobHistory.ReadAsync(node.System, cancellation)
                ?? throw new ArgumentException($"this node's database does not record job {jobId}; run `export` where it does");
            var model = await ModelExport.WriteAsync(history, node.Settings.CreateBlobStore(), ModelExport.DefaultFolder(node.Settings.DataDirectory, jobId), cancellation);
            await output.WriteLineAsync($"Model folder: {model}");
        }
        catch (Exception e) when (ModelExport.IsExpected(e))
        {
            await output.WriteLineAsync($"warning: the model folder was not written: {e.Message}");
        }
    }
}
