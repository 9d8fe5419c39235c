using Moe.Actors.Blobs;
using Moe.Actors.Tests.Support;

namespace Moe.Actors.Tests.Blobs;

public sealed class DirectoryBlobStoreTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private DirectoryBlobStore Store() => new(Path.Combine(_temp.Path, "blobs"));

    private string Source(int size, int seed = 1)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        var path = Path.Combine(_temp.Path, $"source-{seed}-{size}.bin");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public async Task A_blob_round_trips_and_the_same_content_gets_the_same_id()
    {
        var store = Store();
        var source = Source(3_000_000);

        var first = await store.PutAsync(source, TestContext.Current.CancellationToken);
        var second = await store.PutAsync(source, TestContext.Current.CancellationToken);
        var copy = Path.Combine(_temp.Path, "copy.bin");
        await store.GetAsync(first, copy, TestContext.Current.CancellationToken);

        Assert.Equal(first, second);
        Assert.Equal(3_000_000, first.Size);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(source))), first.Sha256);
        Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(copy));
    }

    [Fact]
    public async Task A_transient_blob_reads_back_and_never_replaces_a_stored_blob_of_the_same_content()
    {
        var store = Store();
        var bytes = File.ReadAllBytes(Source(100_000));

        var blob = await BlobWrites.TransientKeepsWhatDurableReplaces(store, store, bytes);

        Assert.Equal(bytes, await BlobWrites.Read(store, blob));
    }

    [Theory]
    [InlineData("flip")]
    [InlineData("truncate")]
    public async Task A_damaged_blob_is_refused_removed_and_never_written_out(string damage)
    {
        var store = Store();
        var blob = await store.PutAsync(Source(100_000), TestContext.Current.CancellationToken);
        var path = store.PathOf(blob);
        var bytes = File.ReadAllBytes(path);
        if (damage == "flip")
            bytes[50_000] ^= 0x40;
        else
            bytes = bytes[..^10];
        File.WriteAllBytes(path, bytes);
        var destination = Path.Combine(_temp.Path, "out.bin");

        var error = await Assert.ThrowsAsync<BlobCorruptedException>(
            () => store.GetAsync(blob, destination, TestContext.Current.CancellationToken));

        Assert.Contains(blob.Sha256[..12], error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(destination));
        Assert.Empty(Directory.GetFiles(_temp.Path, "*.partial"));
        Assert.False(File.Exists(path)); // removed, so that the next put of that content repairs it
    }

    [Fact]
    public async Task An_interrupted_upload_never_becomes_visible()
    {
        var store = Store();
        await using var failing = new FailingStream(bytesBeforeFailure: 2_500_000);

        await Assert.ThrowsAsync<IOException>(() => store.WriteAsync((target, token) => failing.CopyToAsync(target, token), BlobDurability.Durable, TestContext.Current.CancellationToken));

        Assert.Empty(Directory.GetFiles(store.Root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_reader_that_fails_on_a_damaged_blob_is_told_of_the_damage_not_its_own_error()
    {
        var store = Store();
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

    [Fact]
    public async Task A_reader_that_stops_before_the_end_is_refused_as_it_saw_unverified_bytes()
    {
        var store = Store();
        var blob = await store.PutAsync(Source(100_000), TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.ReadAsync(blob, async (stream, token) =>
        {
            await stream.ReadExactlyAsync(new byte[1000], token);
            return 1;
        }, TestContext.Current.CancellationToken));
        Assert.Contains("stopped at byte 1,000", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_blob_is_reported_as_not_found_and_deleting_it_is_no_error()
    {
        var store = Store();
        var missing = BlobRef.Create(new string('a', 64), 10); // not even its folder exists
        await Assert.ThrowsAsync<FileNotFoundException>(
            () => store.GetAsync(missing, Path.Combine(_temp.Path, "x"), TestContext.Current.CancellationToken));

        await store.DeleteAsync(missing, TestContext.Current.CancellationToken);
        store.Quarantine(missing);
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
