using Moe.Actors.Blobs;
using Moe.Testing;

namespace Moe.Actors.Tests.Blobs;

/// <summary>
/// What every blob store promises (see <see cref="IBlobStore"/>), run against each of them. A store's own test class
/// derives from this one and looks at where its bytes land (<see cref="StoredAsync"/>, <see cref="DamageAsync"/>).
/// </summary>
public abstract class BlobStoreContract : IAsyncLifetime
{
    protected TempDirectory Temp { get; } = new();

    /// <summary>The store under test.</summary>
    protected abstract IBlobStore Store { get; }

    /// <summary>The names of everything the store holds, read where its bytes land rather than through it.</summary>
    protected abstract Task<IReadOnlyList<string>> StoredAsync();

    /// <summary>Changes a stored blob's bytes where they land, as a failing disk or a torn copy would.</summary>
    protected abstract Task DamageAsync(BlobRef blob);

    public virtual ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public virtual ValueTask DisposeAsync()
    {
        Temp.Dispose();
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    protected string Source(int size, int seed = 1)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        var path = Path.Combine(Temp.Path, $"source-{seed}-{size}.bin");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public async Task A_blob_round_trips_and_the_same_content_gets_the_same_id()
    {
        var source = Source(3_000_000);

        var first = await Store.PutAsync(source, TestContext.Current.CancellationToken);
        var second = await Store.PutAsync(source, TestContext.Current.CancellationToken);
        var copy = Path.Combine(Temp.Path, "copy.bin");
        await Store.GetAsync(first, copy, TestContext.Current.CancellationToken);

        Assert.Equal(first, second);
        Assert.Equal(3_000_000, first.Size);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(source))), first.Sha256);
        Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(copy));
        Assert.Contains(first.Sha256, await StoredAsync());
    }

    [Fact]
    public async Task A_transient_write_never_replaces_a_stored_blob_of_the_same_content_and_a_durable_one_repairs_it()
    {
        var bytes = File.ReadAllBytes(Source(100_000));

        var blob = await BlobWrites.Write(Store, bytes, BlobDurability.Durable);
        await DamageAsync(blob);

        Assert.Equal(blob, await BlobWrites.Write(Store, bytes, BlobDurability.Transient));
        await Assert.ThrowsAnyAsync<IOException>(() => BlobWrites.Read(Store, blob)); // left damaged, so refused

        await BlobWrites.Write(Store, bytes, BlobDurability.Durable);
        await DamageAsync(blob);
        Assert.Equal(blob, await BlobWrites.Write(Store, bytes, BlobDurability.Durable));
        Assert.Equal(bytes, await BlobWrites.Read(Store, blob)); // repaired
    }

    [Fact]
    public async Task An_interrupted_write_never_becomes_visible()
    {
        await using var failing = new FailingStream(bytesBeforeFailure: 2_500_000);

        await Assert.ThrowsAnyAsync<IOException>(() =>
            Store.WriteAsync((target, token) => failing.CopyToAsync(target, token), BlobDurability.Durable, TestContext.Current.CancellationToken));

        Assert.Empty(await StoredAsync());
    }

    [Fact]
    public async Task A_reader_that_stops_before_the_end_is_refused_as_it_saw_unverified_bytes()
    {
        var blob = await Store.PutAsync(Source(100_000), TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Store.ReadAsync(blob, async (stream, token) =>
        {
            await stream.ReadExactlyAsync(new byte[1000], token);
            return 1;
        }, TestContext.Current.CancellationToken));
        Assert.Contains("stopped at byte 1,000", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_blob_is_reported_as_not_found_and_deleting_it_is_no_error()
    {
        var missing = BlobRef.Create(new string('a', 64), 10); // not even its folder exists

        await Assert.ThrowsAsync<FileNotFoundException>(
            () => Store.GetAsync(missing, Path.Combine(Temp.Path, "x"), TestContext.Current.CancellationToken));
        await Store.DeleteAsync(missing, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_deleted_blob_is_gone()
    {
        var blob = await Store.PutAsync(Source(10_000), TestContext.Current.CancellationToken);

        await Store.DeleteAsync(blob, TestContext.Current.CancellationToken);

        Assert.DoesNotContain(blob.Sha256, await StoredAsync());
        await Assert.ThrowsAsync<FileNotFoundException>(() => BlobWrites.Read(Store, blob));
    }
}
