using Moe.Actors.Blobs;

namespace Moe.Actors.Tests.Blobs;

/// <summary>Bytes to and from any blob store, and a directory store's files seen from outside it.</summary>
internal static class BlobWrites
{
    public static Task<BlobRef> Write(IBlobStore store, byte[] bytes, BlobDurability durability) =>
        store.WriteAsync((stream, token) => stream.WriteAsync(bytes, token).AsTask(), durability, TestContext.Current.CancellationToken);

    public static Task<byte[]> Read(IBlobStore store, BlobRef blob) =>
        store.ReadAsync(blob, async (stream, token) =>
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, token);
            return copy.ToArray();
        }, TestContext.Current.CancellationToken);

    /// <summary>The blob ids in a directory store's folder, quarantined ones included.</summary>
    public static IReadOnlyList<string> Stored(DirectoryBlobStore files) =>
        [.. Directory.GetFiles(files.Root, "*", SearchOption.AllDirectories).Select(Path.GetFileName).OfType<string>()];

    /// <summary>Flips a bit in the middle of a blob's file.</summary>
    public static void Damage(DirectoryBlobStore files, BlobRef blob)
    {
        var bytes = File.ReadAllBytes(files.PathOf(blob));
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(files.PathOf(blob), bytes);
    }
}
