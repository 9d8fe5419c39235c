namespace Moe.Actors.Blobs;

/// <summary>
/// A claim check: what an Akka message carries instead of parameters or deltas. The id is
/// the lowercase hex SHA-256 of the content, so every reader can verify what it got.
/// </summary>
public sealed record BlobRef(string Sha256, long Size)
{
    public static bool IsValidId(string? id) =>
        id is { Length: 64 } && id.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'));

    public static BlobRef Create(string sha256, long size)
    {
        if (!IsValidId(sha256))
            throw new ArgumentException($"Blob id \"{sha256}\" is not a lowercase hex SHA-256 (64 characters).", nameof(sha256));
        if (size < 0)
            throw new ArgumentException($"Blob size must be non-negative, got {size}.", nameof(size));
        return new BlobRef(sha256, size);
    }

    public override string ToString() => $"{Sha256[..12]}… ({Size:N0} bytes)";
}
