namespace Moe.Actors.Blobs;

/// <summary>
/// Content-addressed storage for parameters, deltas and checkpoints. A put becomes visible only once complete
/// and verified; a get verifies size and SHA-256 and only then lets the destination file appear.
/// </summary>
public interface IBlobStore
{
    /// <summary>Stores a file's content and returns its claim check. Storing the same content twice is harmless.</summary>
    Task<BlobRef> PutAsync(string sourceFile, CancellationToken cancellationToken);

    /// <summary>
    /// Writes the blob to <paramref name="destinationFile"/>, which appears only when the content matched the blob's
    /// hash. Throws <see cref="BlobCorruptedException"/> (after refetching, where the store can) or
    /// <see cref="FileNotFoundException"/>.
    /// </summary>
    Task GetAsync(BlobRef blob, string destinationFile, CancellationToken cancellationToken);

    /// <summary>Deletes a blob no longer referenced; deleting a missing blob is harmless.</summary>
    Task DeleteAsync(BlobRef blob, CancellationToken cancellationToken);
}
