using Moe.Actors.Blobs;

namespace Moe.Actors.Tests.Blobs;

/// <summary>Bytes to and from any blob store, and the durability check that the directory and HTTP stores share.</summary>
internal static class BlobWrites
{
    private static readonly DateTime Marked = new(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public static Task<BlobRef> Write(IBlobStore store, byte[] bytes, BlobDurability durability) =>
        store.WriteAsync((stream, token) => stream.WriteAsync(bytes, token).AsTask(), durability, TestContext.Current.CancellationToken);

    public static Task<byte[]> Read(IBlobStore store, BlobRef blob) =>
        store.ReadAsync(blob, async (stream, token) =>
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, token);
            return copy.ToArray();
        }, TestContext.Current.CancellationToken);

    /// <summary>
    /// Stores <paramref name="bytes"/> durably through <paramref name="store"/>, marks the file in
    /// <paramref name="files"/> with a time no write of the run can have, then stores them again: a transient write
    /// must leave the (synced) file in place, a durable one must replace it, and so repair it.
    /// </summary>
    public static async Task<BlobRef> TransientKeepsWhatDurableReplaces(IBlobStore store, DirectoryBlobStore files, byte[] bytes)
    {
        var blob = await Write(store, bytes, BlobDurability.Durable);
        var path = files.PathOf(blob);
        File.SetLastWriteTimeUtc(path, Marked);

        Assert.Equal(blob, await Write(store, bytes, BlobDurability.Transient));
        Assert.Equal(Marked, File.GetLastWriteTimeUtc(path));
        Assert.Equal(blob, await Write(store, bytes, BlobDurability.Durable));
        Assert.NotEqual(Marked, File.GetLastWriteTimeUtc(path));
        return blob;
    }
}
