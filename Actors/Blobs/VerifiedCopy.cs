using System.Security.Cryptography;

namespace Moe.Actors.Blobs;

/// <summary>Copies a stream to a file while hashing it; the file appears under its final name only if verified.</summary>
internal static class VerifiedCopy
{
    private const int BufferSize = 1 << 20;

    /// <summary>Copies into a temporary file beside <paramref name="destination"/> and returns its hash and size.</summary>
    public static async Task<BlobRef> ToTemporaryAsync(Stream source, string temporary, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long size = 0;
        await using (var target = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize, useAsync: true))
        {
            var buffer = new byte[BufferSize];
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                size += read;
            }
            await target.FlushAsync(cancellationToken).ConfigureAwait(false);
            target.Flush(flushToDisk: true);
        }
        return new BlobRef(Convert.ToHexStringLower(hash.GetHashAndReset()), size);
    }

    /// <summary>
    /// Copies <paramref name="source"/> to <paramref name="destination"/> only if it is exactly <paramref name="expected"/>;
    /// otherwise nothing appears and <see cref="BlobCorruptedException"/> says what differed.
    /// </summary>
    public static async Task ToFileAsync(Stream source, BlobRef expected, string destination, string origin, CancellationToken cancellationToken)
    {
        var temporary = TemporaryBeside(destination);
        try
        {
            var actual = await ToTemporaryAsync(source, temporary, cancellationToken).ConfigureAwait(false);
            if (actual != expected)
                throw new BlobCorruptedException(
                    $"Blob {expected} from {origin} is damaged: got {actual.Size:N0} bytes with SHA-256 {actual.Sha256[..12]}…; refused.");
            File.Move(temporary, destination, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    public static string TemporaryBeside(string path) => $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.partial";
}
