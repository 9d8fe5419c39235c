using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Moe.Actors.Blobs;
using Moe.Actors.Tests.Support;

namespace Moe.Actors.Tests.Blobs;

/// <summary>The blob store contract against a real S3-compatible server (see <see cref="TestObjectStore"/>).</summary>
[Trait("Category", "Integration")]
public sealed class S3BlobStoreTests : BlobStoreContract
{
    // Each test has its own prefix in the shared bucket, so listing it sees only its own blobs.
    private readonly string _prefix = $"test-{Guid.NewGuid():N}/";
    private readonly Uri _endpoint = TestObjectStore.Endpoint();
    private S3BlobStore? _store;

    protected override IBlobStore Store => _store ??= new S3BlobStore(Settings(), TestObjectStore.Credentials);

    private BlobStoreSettings Settings(string bucket = TestObjectStore.Bucket) => new()
    {
        Kind = BlobStoreKind.S3,
        S3 = TestObjectStore.Compatible(_endpoint) with { Bucket = bucket, Prefix = _prefix, PartSize = S3BlobSettings.MinPartSize, Parallelism = 3 },
        Retries = 2,
        RetryDelay = TimeSpan.FromMilliseconds(10),
    };

    private AmazonS3Client Raw() => new(TestObjectStore.Credentials, new AmazonS3Config { ServiceURL = _endpoint.ToString(), ForcePathStyle = true, AuthenticationRegion = TestObjectStore.Region });

    protected override async Task<IReadOnlyList<string>> StoredAsync()
    {
        using var client = Raw();
        var listed = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = TestObjectStore.Bucket, Prefix = _prefix }, TestContext.Current.CancellationToken);
        return [.. (listed.S3Objects ?? []).Select(o => o.Key[_prefix.Length..])];
    }

    protected override async Task DamageAsync(BlobRef blob)
    {
        using var client = Raw();
        var bytes = new byte[blob.Size];
        using (var stored = await client.GetObjectAsync(TestObjectStore.Bucket, _prefix + blob.Sha256, TestContext.Current.CancellationToken))
            await stored.ResponseStream.ReadExactlyAsync(bytes, TestContext.Current.CancellationToken);
        bytes[bytes.Length / 2] ^= 0x01;
        await client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = TestObjectStore.Bucket,
            Key = _prefix + blob.Sha256,
            InputStream = new MemoryStream(bytes),
            UseChunkEncoding = false,
        }, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_blob_larger_than_a_part_goes_up_in_parts_and_comes_down_in_ranges_verified()
    {
        var source = Source((int)(2.5 * S3BlobSettings.MinPartSize)); // three parts, the last a half

        var blob = await Store.PutAsync(source, TestContext.Current.CancellationToken);
        var copy = Path.Combine(Temp.Path, "copy.bin");
        await Store.GetAsync(blob, copy, TestContext.Current.CancellationToken);

        Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(copy));
        Assert.Equal([blob.Sha256], await StoredAsync());
        await DamageAsync(blob);
        await Assert.ThrowsAsync<BlobCorruptedException>(() => Store.GetAsync(blob, copy + ".2", TestContext.Current.CancellationToken));
        Assert.False(File.Exists(copy + ".2"));
        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), $"moe-download.{Environment.ProcessId}.*"));
    }

    [Fact]
    public async Task A_missing_bucket_is_one_clear_refusal_not_a_retry_loop()
    {
        var store = new S3BlobStore(Settings(bucket: "no-such-bucket"), TestObjectStore.Credentials);
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.PutAsync(Source(1000), TestContext.Current.CancellationToken));

        Assert.Contains("NoSuchBucket", error.Message, StringComparison.Ordinal);
        Assert.Contains("s3://no-such-bucket/", error.Message, StringComparison.Ordinal);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"{watch.Elapsed}");
    }

    [Fact]
    public async Task An_unknown_access_key_is_one_clear_refusal_even_on_the_existence_check_of_a_transient_write()
    {
        var store = new S3BlobStore(Settings(), new BasicAWSCredentials("NOT-A-KEY", "S3RVER"));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => BlobWrites.Write(store, [1, 2, 3], BlobDurability.Transient));

        Assert.Contains("S3 refused", error.Message, StringComparison.Ordinal);
        Assert.Contains("403", error.Message, StringComparison.Ordinal);
    }
}
