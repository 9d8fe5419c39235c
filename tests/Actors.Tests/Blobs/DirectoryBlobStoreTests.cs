using Moe.Actors.Blobs;
using Moe.Actors.Tests.Support;

namespace Moe.Actors.Tests.Blobs;

public sealed class DirectoryBlobStoreTests : BlobStoreContract
{
    private DirectoryBlobStore? _store;

    protected override IBlobStore Store => _store ??= new(Path.Combine(Temp.Path, "blobs"));

    private DirectoryBlobStore Files => (DirectoryBlobStore)Store;

    protected override Task<IReadOnlyList<string>> StoredAsync() => Task.FromResult(BlobWrites.Stored(Files));

    protected override Task DamageAsync(BlobRef blob)
    {
        BlobWrites.Damage(Files, blob);
        return Task.CompletedTask;
    }

    [Theory]
    [InlineData("flip")]
    [InlineData("truncate")]
    public async Task A_damaged_blob_is_refused_kept_in_quarantine_and_never_written_out(string damage)
    {
        var store = Files;
        var blob = await store.PutAsync(Source(100_000), TestContext.Current.CancellationToken);
        var path = store.PathOf(blob);
        var bytes = File.ReadAllBytes(path);
        if (damage == "flip")
            bytes[50_000] ^= 0x40;
        else
            bytes = bytes[..^10];
        File.WriteAllBytes(path, bytes);
        var destination = Path.Combine(Temp.Path, "out.bin");

        var error = await Assert.ThrowsAsync<BlobCorruptedException>(
            () => store.GetAsync(blob, destination, TestContext.Current.CancellationToken));

        Assert.Contains(blob.Sha256[..12], error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(destination));
        Assert.Empty(Directory.GetFiles(Temp.Path, "*.partial"));
        Assert.False(File.Exists(path)); // out of the way, so that the next put of that content repairs it
        var kept = Assert.Single(Directory.GetFiles(store.QuarantineFolder));
        Assert.Equal(bytes, File.ReadAllBytes(kept)); // the evidence stays
        Assert.Equal(blob, await store.PutAsync(Source(100_000), TestContext.Current.CancellationToken));
        Assert.True(File.Exists(path));
    }

    [Fact]
    public void Quarantining_a_blob_that_is_not_there_is_no_error() =>
        Files.Quarantine(BlobRef.Create(new string('a', 64), 10));

    [Fact]
    public async Task A_reader_that_fails_on_a_damaged_blob_is_told_of_the_damage_not_its_own_error()
    {
        var store = Files;
        var blob = await store.PutAsync(Source(100_000), TestContext.Current.CancellationToken);
        var bytes = File.ReadAllBytes(store.PathOf(blob));
        bytes[90_000] ^= 0x01; // after the point where the reader gives up
        File.WriteAllBytes(store.PathOf(blob), bytes);

        await Assert.ThrowsAsync<BlobCorruptedException>(() => store.ReadAsync<int>(blob, async (stream, token) =>
        {
            await stream.ReadExactlyAsync(new byte[1000], token);
            throw new InvalidDataException("the reader did not like byte 1000");
        }, TestContext.Current.CancellationToken));
        Assert.False(File.Exists(store.PathOf(blob)));
    }

}

/// <summary>Yields pseudo-random bytes, then fails like a dropped connection.</summary>
internal sealed class FailingStream(long bytesBeforeFailure) : Stream
{
    private long _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count)
    {
        if (_position >= bytesBeforeFailure)
            throw new IOException("The connection was reset.");
        var n = (int)Math.Min(count, bytesBeforeFailure - _position);
        Array.Fill(buffer, (byte)(_position % 251), offset, n);
        _position += n;
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
