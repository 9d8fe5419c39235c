namespace Moe.Actors.Blobs;

/// <summary>
/// Content-addressed storage for parameters, deltas and checkpoints. A blob becomes visible only once complete and
/// synced; a read is checked against the blob's size and SHA-256 before its reader may return. Both sides stream:
/// parameters go from tensor memory to the store and back with no work file between.
/// </summary>
public interface IBlobStore
{
    /// <summary>
    /// Stores what <paramref name="write"/> writes to the stream it is given and returns the claim check. Storing
    /// the same content twice is harmless. If <paramref name="write"/> fails, nothing is stored.
    /// </summary>
    Task<BlobRef> WriteAsync(Func<Stream, CancellationToken, Task> write, BlobDurability durability, CancellationToken cancellationToken);

    /// <summary>
    /// Runs <paramref name="read"/> over the blob's content, which it must read to the end: the read of the last
    /// byte throws <see cref="BlobCorruptedException"/> if the content does not match the blob. Where the store can
    /// fetch again (HTTP), a damaged or interrupted read is run again from the start, so <paramref name="read"/> must
    /// release what it built when it throws. A missing blob is <see cref="FileNotFoundException"/>.
    /// </summary>
    Task<T> ReadAsync<T>(BlobRef blob, Func<Stream, CancellationToken, Task<T>> read, CancellationToken cancellationToken);

    /// <summary>Deletes a blob no longer referenced; deleting a missing blob is harmless.</summary>
    Task DeleteAsync(BlobRef blob, CancellationToken cancellationToken);
}
