using System.Globalization;
using Moe.Actors.Blobs;
using Moe.Model.Data;
using Moe.Model.Inference;
using Moe.Model.Training.Rounds;

namespace Moe.Actors.Training;

/// <summary>
/// The model folder of a job (see <see cref="ModelFolder"/>) from its last committed round: the round's parameters
/// and vocabulary from the blob store, its global q from the journal. Any node that reads the job's database and
/// blob store can write it.
/// </summary>
public static class ModelExport
{
    /// <summary>DATA/models/JOB-ID.</summary>
    public static string DefaultFolder(string dataDirectory, string jobId) => Path.GetFullPath(Path.Combine(dataDirectory, "models", jobId));

    /// <summary>
    /// What <see cref="WriteAsync"/> throws for reasons a user can act on (no round yet, a folder that is not a model
    /// folder, a missing or damaged blob, a full disk), as opposed to a bug.
    /// </summary>
    public static bool IsExpected(Exception e) => e is ArgumentException or InvalidDataException or IOException or BlobCorruptedException;

    /// <summary>Writes the folder (replacing a model folder there) and returns its full path.</summary>
    /// <exception cref="ArgumentException">No round has committed yet, or the round predates what an export needs.</exception>
    public static async Task<string> WriteAsync(JobHistory history, IBlobStore blobs, string folder, CancellationToken cancellation)
    {
        var spec = history.Spec;
        if (history.Rounds.Count == 0)
            throw new ArgumentException($"Job {spec.JobId} has no committed round yet: there is no trained model to export.");
        var round = history.Rounds[^1];
        if (round.Vocabulary is null || round.Q is null)
            throw new ArgumentException($"Round {round.Round} of job {spec.JobId} was committed by an earlier version, which kept neither the vocabulary nor q; train one more round with this version, then export.");

        var json = await blobs.ReadAsync(round.Vocabulary, async (stream, token) =>
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, token).ConfigureAwait(false);
            return copy.ToArray();
        }, cancellation).ConfigureAwait(false);
        var vocabulary = Vocabulary.FromJson(json);
        using var parameters = await ParameterBlobs.ReadAsync(blobs, spec, round.Parameters, $"parameters of round {round.Round}", cancellation)
            .ConfigureAwait(false);
        var provenance = new Dictionary<string, string>
        {
            ["job_id"] = spec.JobId,
            ["committed_rounds"] = (round.Round + 1).ToString(CultureInfo.InvariantCulture),
            ["rounds"] = spec.Rounds.ToString(CultureInfo.InvariantCulture),
            ["q_steps"] = string.Join(",", round.Q.Steps),
            ["committed_at"] = round.CommittedAt.ToString("O", CultureInfo.InvariantCulture),
        };
        return await Task.Run(() => ModelFolder.Write(folder, spec.Model, parameters, round.Q.Q, vocabulary, provenance), cancellation).ConfigureAwait(false);
    }
}
