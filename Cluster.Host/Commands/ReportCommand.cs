using System.CommandLine;
using Moe.Actors.Hosting;
using Moe.Actors.Training;
using Moe.Cluster.Host.Hosting;
using Moe.Cluster.Host.Reports;

namespace Moe.Cluster.Host.Commands;

/// <summary>
/// `report`: the report of the job recorded in a data directory (or PostgreSQL database), read from the
/// coordinator's journal; works on a finished job, a stopped one, and one still running.
/// </summary>
public static class ReportCommand
{
    public static Command Create()
    {
        var recorded = new RecordedJobOptions();
        var jobId = new Option<string?>("--job-id") { Description = "Expect this job (an error names the job recorded if it differs)." };
        var output = new Option<string?>("--out") { Description = "Folder of the report (default: DATA-DIR/reports/JOB-ID)." };

        var command = new Command("report", "Write the report (Markdown, CSV, PNG plots) of the job recorded in the database.") { jobId, output };
        recorded.AddTo(command);
        command.SetAction(async (result, cancellation) =>
        {
            try
            {
                var (settings, history) = await recorded.ReadAsync(result, result.GetValue(jobId), cancellation);
                var folder = result.GetValue(output) ?? DefaultFolder(settings, history.Spec.JobId);
                await Print(result.InvocationConfiguration.Output, settings, history, Write(settings, history, folder));
                return ExitCodes.Success;
            }
            catch (Exception e) when (e is ArgumentException or FileNotFoundException or InvalidDataException)
            {
                await result.InvocationConfiguration.Error.WriteLineAsync($"error: {Cli.Describe(e)}");
                return ExitCodes.BadInput;
            }
        });
        return command;
    }

    public static string DefaultFolder(NodeSettings settings, string jobId) =>
        Path.GetFullPath(Path.Combine(settings.DataDirectory, "reports", jobId));

    /// <summary>Writes the report of <paramref name="history"/> into <paramref name="folder"/> (shared with `train`).</summary>
    public static IReadOnlyList<string> Write(NodeSettings settings, JobHistory history, string folder)
    {
        var checkpoint = history.Rounds.Count > 0 ? JobClient.Locate(settings, history.Rounds[^1].Parameters) : null;
        return JobReport.Write(history, folder, checkpoint, ModelFolderOf(settings, history.Spec.JobId));
    }

    /// <summary>The job's model folder under the data directory, when one was written (its manifest comes last).</summary>
    public static string? ModelFolderOf(NodeSettings settings, string jobId)
    {
        var folder = ModelExport.DefaultFolder(settings.DataDirectory, jobId);
        return File.Exists(Path.Combine(folder, Moe.Model.IO.FolderManifest.FileName)) ? folder : null;
    }

    public static async Task Print(TextWriter output, NodeSettings settings, JobHistory history, IReadOnlyList<string> files)
    {
        await output.WriteLineAsync($"Report of job {history.Spec.JobId} ({history.Rounds.Count} of {history.Spec.Rounds} rounds) in {Path.GetDirectoryName(files[0])}:");
        await output.WriteLineAsync($"  model: {history.Spec.Model.Describe()}");
        if (ModelFolderOf(settings, history.Spec.JobId) is { } model)
            await output.WriteLineAsync($"  model folder: {model}");
        foreach (var file in files)
            await output.WriteLineAsync($"  {Path.GetFileName(file)}");
    }
}
