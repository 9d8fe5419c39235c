using Moe.Actors.Blobs;
using Moe.Actors.Training.Slices;
using Moe.Model.Training.Rounds;

namespace Moe.Actors.Training;

/// <summary>
/// A job's parameters, momentum and deltas in the blob store: one parameter file each, or, when the job's outer
/// step is sliced, an index of slice blobs (<see cref="SlicedBlobs"/>). Whoever reads, checks or deletes them goes
/// through here, so both layouts behave alike.
/// </summary>
internal static class ParameterBlobs
{
    public static Task<BlobRef> WriteAsync(IBlobStore store, JobSpec spec, IReadOnlyList<NamedTensor> tensors, string tag, DeltaPrecision precision,
        BlobDurability durability, CancellationToken token) =>
        spec.Sliced
            ? SlicedBlobs.WriteAsync(store, tensors, spec.Slices!.Value, $"{spec.JobId} {tag}", precision, durability, token)
            : store.WriteAsync((stream, cancel) => Task.Run(() => ParameterFile.Save(stream, tensors, precision), cancel), durability, token);

    public static Task<ParameterSet> ReadAsync(IBlobStore store, JobSpec spec, BlobRef blob, string what, CancellationToken token) =>
        spec.Sliced
            ? SlicedBlobs.ReadAsync(store, blob, what, token)
            : store.ReadAsync(blob, (stream, cancel) => Task.Run(() => ParameterFile.Load(stream, $"{what} {blob}"), cancel), token);

    public static Task DeleteAsync(IBlobStore store, JobSpec spec, BlobRef blob, CancellationToken token) =>
        spec.Sliced ? SlicedBlobs.DeleteAsync(store, blob, token) : store.DeleteAsync(blob, token);

    /// <summary>
    /// Reads every byte back (a damaged blob goes to the store's quarantine as it is read): null if whole, else what
    /// is missing or damaged.
    /// </summary>
    public static async Task<string?> DamageAsync(IBlobStore store, JobSpec spec, BlobRef blob, string what, CancellationToken token)
    {
        IReadOnlyList<BlobRef> blobs;
        try
        {
            blobs = spec.Sliced ? await SlicedBlobs.ReadIndexAsync(store, blob, token).ConfigureAwait(false) : [blob];
        }
        catch (Exception e) when (e is BlobCorruptedException or FileNotFoundException or InvalidDataException)
        {
            return $"{what} {blob.Sha256} {(e is FileNotFoundException ? "is missing" : "is damaged")}";
        }
        foreach (var part in blobs)
        {
            try
            {
                await store.ReadAsync(part, async (stream, cancel) =>
                {
                    await stream.CopyToAsync(Stream.Null, cancel).ConfigureAwait(false);
                    return 0;
                }, token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is BlobCorruptedException or FileNotFoundException)
            {
                var which = part == blob ? "" : $" (slice {part.Sha256})";
                return $"{what} {blob.Sha256}{which} {(e is FileNotFoundException ? "is missing" : "is damaged")}";
            }
        }
        return null;
    }
}
