namespace Moe.Actors.Blobs;

/// <summary>
/// Blobs as files named by their hash under a directory: one machine, or a volume shared by all nodes
/// (ReadWriteMany). Writes go to a ".partial" file first and are renamed only when complete, so an interrupted
/// upload never becomes visible. A blob whose content no longer matches its name is deleted on read and refused.
/// </summary>
public sealed class DirectoryBlobStore : IBlobStore
{
    public DirectoryBlobStore(string root)
    {
        Root = Path.GetFullPath(root);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string PathOf(BlobRef blob) => PathOf(blob.Sha256);

    public string PathOf(string sha256) => Path.Combine(Root, sha256[..2], sha256);

    public async Task<BlobRef> PutAsync(string sourceFile, CancellationToken cancellationToken)
    {
        await using var source = File.OpenRead(sourceFile);
        return await PutAsync(source, expected: null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stores a stream; with <paramref name="expected"/> (an HTTP upload), content that differs is refused.</summary>
    public async Task<BlobRef> PutAsync(Stream source, BlobRef? expected, CancellationToken cancellationToken)
    {
        var temporary = VerifiedCopy.TemporaryBeside(Path.Combine(Root, "upload"));
        try
        {
            var actual = await VerifiedCopy.ToTemporaryAsync(source, temporary, cancellationToken).ConfigureAwait(false);
            if (expected is not null && actual != expected)
                throw new BlobCorruptedException(
                    $"Upload of blob {expected} arrived as {actual.Size:N0} bytes with SHA-256 {actual.Sha256[..12]}…; refused.");
            var path = PathOf(actual);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.Move(temporary, path, overwrite: true); // same content either way: content addressing
            return actual;
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    public async Task GetAsync(BlobRef blob, string destinationFile, CancellationToken cancellationToken)
    {
        await using var source = OpenVerifiedSize(blob);
        try
        {
            await VerifiedCopy.ToFileAsync(source, blob, destinationFile, Root, cancellationToken).ConfigureAwait(false);
        }
        catch (BlobCorruptedException)
        {
            Quarantine(blob);
            throw;
        }
    }

    /// <summary>Opens a blob for reading after checking its size; the caller verifies the hash while streaming.</summary>
    public FileStream OpenVerifiedSize(BlobRef blob)
    {
        var path = PathOf(blob);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Blob {blob} is not in {Root}.", path);
        var stream = File.OpenRead(path);
        var length = stream.Length;
        if (length != blob.Size)
        {
            stream.Dispose();
            Quarantine(blob);
            throw new BlobCorruptedException($"Blob {blob} in {Root} has {length:N0} bytes on disk; refused and removed.");
        }
        return stream;
    }

    public Task DeleteAsync(BlobRef blob, CancellationToken cancellationToken)
    {
        File.Delete(PathOf(blob));
        return Task.CompletedTask;
    }

    /// <summary>A damaged blob is removed so that the next put of the same content repairs it.</summary>
    public void Quarantine(BlobRef blob) => File.Delete(PathOf(blob));
}
