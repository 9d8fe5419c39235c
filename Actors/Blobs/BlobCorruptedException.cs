namespace Moe.Actors.Blobs;

/// <summary>What a store returned does not match the blob's size or hash: it is refused, never used.</summary>
public sealed class BlobCorruptedException : IOException
{
    public BlobCorruptedException()
    {
    }

    public BlobCorruptedException(string message) : base(message)
    {
    }

    public BlobCorruptedException(string message, Exception inner) : base(message, inner)
    {
    }
}
