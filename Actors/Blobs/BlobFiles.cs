namespace Moe.Actors.Blobs;

/// <summary>Blobs to and from files, for checkpoints a user takes away and for tools.</summary>
public static class BlobFiles
{
    private const int BufferSize = 1 << 20;

    /// <summary>Stores a file's content.</summary>
    public static Task<BlobRef> PutAsync(this IBlobStore store, string sourceFile, CancellationToken cancellationToken) =>
        store.WriteAsync(async (target, token) =>
        {
            await using var source = new FileStream(sourceFile, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, useAsync: true);
            await source.CopyToAsync(target, BufferSize, token).ConfigureAwait(false);
        }, BlobDurability.Durable, cancellationToken);

    /// <summary>
    /// Writes the blob to <paramref name="destinationFile"/>, which appears only once the content matched the blob.
    /// It is a work file: not synced to disk.
    /// </summary>
    public static Task GetAsync(this IBlobStore store, BlobRef blob, string destinationFile, CancellationToken cancellationToken) =>
        store.ReadAsync(blob, async (source, token) =>
        {
            var temporary = TemporaryBeside(destinationFile);
            try
            {
                await using (var target = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize, useAsync: true))
                    await source.CopyToAsync(target, BufferSize, token).ConfigureAwait(false);
                File.Move(temporary, destinationFile, overwrite: true);
                return true;
            }
            finally
            {
                File.Delete(temporary);
            }
        }, cancellationToken);

    /// <summary>A name beside <paramref name="path"/> that no other process or write uses.</summary>
    public static string TemporaryBeside(string path) => $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.partial";
}
