using System.CommandLine;
using Moe.Actors.Hosting;
using Moe.Actors.Training;
using Moe.Cluster.Host.Configuration;

namespace Moe.Cluster.Host.Commands;

/// <summary>
/// `export`: writes the model folder of the job recorded in a data directory (or PostgreSQL database) from its last
/// committed round: model.safetensors, config.json, vocabulary.json and the manifest. Works on a finished job, a
/// stopped one and one still running.
/// </summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var config = CommonOptions.Config();
        var dataDirectory = CommonOptions.DataDirectory();
        var postgres = CommonOptions.Postgres();
        var blobs = CommonOptions.Blobs();
        var jobId = new Option<string>("--job-id") { Description = "The job to export (one job per cluster database).", Required = true };
        var output = new Option<string?>("--out", "--model") { Description = "Model folder to write; replaced if it exists (default: DATA-DIR/models/JOB-ID)." };

        var command = new Command("export", "Write a job's model folder (safetensors, config.json, vocabulary) from its last committed round.")
        {
            config, dataDirectory, postgres, blobs, jobId, output,
        };
        command.SetAction(async (result, cancellation) =>
        {
            var error = result.InvocationConfiguration.Error;
            try
            {
                var flags = new Flags()
                    .Set("Node:DataDirectory", result.GetValue(dataDirectory))
                    .Postgres(result.GetValue(postgres))
                    .Blobs(result.GetValue(blobs));
                var settings = HostConfiguration.Node(HostConfiguration.Build(result.GetValue(config), flags.Values));
                var history = await JobRecords.ReadAsync(settings, cancellation);
                var expected = result.GetValue(jobId)!;
                if (expected != history.Spec.JobId)
                    throw new ArgumentException($"the database holds job \"{history.Spec.JobId}\", not \"{expected}\" (one job per cluster database).");
                var folder = await ModelExport.WriteAsync(history, settings.CreateBlobStore(),
                    result.GetValue(output) ?? ModelExport.DefaultFolder(settings.DataDirectory, expected), cancellation);
                var round = history.Rounds[^1].Round;
                await result.InvocationConfiguration.Output.WriteLineAsync(
                    $"Model folder: {folder} (job {expected}, round {round + 1} of {history.Spec.Rounds}{(history.Finished ? ", finished" : "")})");
                return ExitCodes.Success;
            }
            catch (Exception e) when (e is ArgumentException or FileNotFoundException or InvalidDataException)
            {
                await error.WriteLineAsync($"error: {Cli.Describe(e)}");
                return ExitCodes.BadInput;
            }
        });
        return command;
    }
}
