using System.CommandLine;
using Moe.Actors.Blobs;
using Moe.Actors.Training;

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
        var recorded = new RecordedJobOptions();
        var jobId = new Option<string>("--job-id") { Description = "The job to export (one job per cluster database).", Required = true };
        var output = new Option<string?>("--out", "--model") { Description = "Model folder to write; replaced if it exists (default: DATA-DIR/models/JOB-ID)." };

        var command = new Command("export", "Write a job's model folder (safetensors, config.json, vocabulary) from its last committed round.") { jobId, output };
        recorded.AddTo(command);
        command.SetAction(async (result, cancellation) =>
        {
            try
            {
                var (settings, history) = await recorded.ReadAsync(result, result.GetValue(jobId), cancellation);
                var job = history.Spec.JobId;
                var folder = await ModelExport.WriteAsync(history, settings.CreateBlobStore(),
                    result.GetValue(output) ?? ModelExport.DefaultFolder(settings.DataDirectory, job), cancellation);
                await result.InvocationConfiguration.Output.WriteLineAsync(
                    $"Model folder: {folder} (job {job}, round {history.Rounds.Count} of {history.Spec.Rounds}{(history.Finished ? ", finished" : "")})");
                return ExitCodes.Success;
            }
            catch (Exception e) when (ModelExport.IsExpected(e))
            {
                await result.InvocationConfiguration.Error.WriteLineAsync($"error: {Cli.Describe(e)}");
                // A blob or database that is not there is the input's fault; a disk that fails the write is not.
                return e is IOException and not FileNotFoundException and not DirectoryNotFoundException ? ExitCodes.Environment : ExitCodes.BadInput;
            }
        });
        return command;
    }
}
