using Moe.Actors.Blobs;

namespace Moe.Actors.Tests.Blobs;

/// <summary>Bytes to and from any blob store, and a file time no write of the test run can have.</summary>
internal static class BlobWrites
{
    public static readonly DateTime Marked = new(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public static Task<BlobRef> Write(IBlobStore store, byte[] bytes, BlobDurability durability) =>
        store.WriteAsync((stream, token) => stream.WriteAsync(bytes, token).AsTask(), durability, TestContext.Current.CancellationToken);

    public static Task<byte[]> Read(IBlobStore store, BlobRef blob) =>
        store.ReadAsync(blob, async (stream, token) =>
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, token);
            return copy.ToArray();
        }, TestContext.Current.CancellationToken);
}
