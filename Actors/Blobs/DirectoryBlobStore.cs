namespace Moe.Actors.Blobs;

/// <summary>
/// Blobs as files named by their hash under a directory: one machine, or a volume shared by all nodes
/// (ReadWriteMany). Writes go to a ".partial" file first, hashed as they pass, and are synced and renamed only when
/// complete, so an interrupted upload never becomes visible. A blob whose content no longer matches its name is
/// deleted on read and refused.
/// </summary>
public sealed class DirectoryBlobStore : IBlobStore
{
    private const int BufferSize = 1 << 20;

    public DirectoryBlobStore(string root)
    {
        Root = Path.GetFullPath(root);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string PathOf(BlobRef blob) => PathOf(blob.Sha256);

    public string PathOf(string sha256) => Path.Combine(Root, sha256[..2], sha256);

    public Task<BlobRef> WriteAsync(Func<Stream, CancellationToken, Task> write, BlobDurability durability, CancellationToken cancellationToken) =>
        StoreAsync(write, expected: null, durability, cancellationToken);

    /// <summary>Stores an HTTP upload, refused unless its content is <paramref name="expected"/>.</summary>
    public Task<BlobRef> PutAsync(Stream source, BlobRef expected, BlobDurability durability, CancellationToken cancellationToken) =>
        StoreAsync((target, token) => source.CopyToAsync(target, BufferSize, token), expected, durability, cancellationToken);

    public async Task<T> ReadAsync<T>(BlobRef blob, Func<Stream, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        var path = PathOf(blob);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Blob {blob} is not in {Root}.", path);
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.SequentialScan);
        if (file.Length != blob.Size)
        {
            Quarantine(blob);
            throw new BlobCorruptedException($"Blob {blob} in {Root} has {file.Length:N0} bytes on disk; refused and moved to {QuarantineFolder}.");
        }
        await using var verifying = new VerifyingStream(file, blob, Root);
        try
        {
            return await verifying.Run(read, cancellationToken).ConfigureAwait(false);
        }
        catch (BlobCorruptedException)
        {
            Quarantine(blob);
            throw;
        }
    }

    public Task DeleteAsync(BlobRef blob, CancellationToken cancellationToken)
    {
        Remove(blob);
        return Task.CompletedTask;
    }

    /// <summary>Where damaged blobs go: out of the store's way, kept as evidence.</summary>
    public string QuarantineFolder => Path.Combine(Root, "quarantine");

    /// <summary>
    /// A damaged blob moves to <see cref="QuarantineFolder"/>, so that the next put of the same content repairs it
    /// and the damaged bytes stay for whoever looks into what happened.
    /// </summary>
    public void Quarantine(BlobRef blob)
    {
        try
        {
            Directory.CreateDirectory(QuarantineFolder);
            File.Move(PathOf(blob), Path.Combine(QuarantineFolder, $"{blob.Sha256}-{DateTime.UtcNow:yyyyMMddTHHmmssfff}"));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // not there (another reader moved it first): nothing to keep
        }
    }

    // A blob that is not there (not even its folder) is as deleted as can be.
    private void Remove(BlobRef blob)
    {
        try
        {
            File.Delete(PathOf(blob));
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private static void MoveUnlessStored(string temporary, string path)
    {
        try
        {
            File.Move(temporary, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
        }
    }

    private async Task<BlobRef> StoreAsync(Func<Stream, CancellationToken, Task> write, BlobRef? expected, BlobDurability durability,
        CancellationToken cancellationToken)
    {
        var temporary = BlobFiles.TemporaryBeside(Path.Combine(Root, "upload"));
        try
        {
            var durable = durability == BlobDurability.Durable;
            var actual = await HashingStream.WriteFileAsync(temporary, write, sync: durable, cancellationToken).ConfigureAwait(false);
            if (expected is not null && actual != expected)
                throw new BlobCorruptedException(
                    $"Upload of blob {expected} arrived as {actual.Size:N0} bytes with SHA-256 {actual.Sha256[..12]}…; refused.");
            var path = PathOf(actual);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            // Same content either way (content addressing); a durable write also repairs a damaged file, and a
            // transient one leaves what is there, which may be synced.
            if (durable)
                File.Move(temporary, path, overwrite: true);
            else
                MoveUnlessStored(temporary, path);
            return actual;
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
