using Moe.Actors.Blobs;
using Moe.Testing;

namespace Moe.Actors.Tests.Blobs;

public sealed class BlobStoreSettingsTests
{
    [Theory]
    [InlineData("http://0.0.0.0:8080")]
    [InlineData("http://10.1.2.3:8080")]
    [InlineData("http://coordinator:8080")]
    public void A_blob_server_reachable_from_elsewhere_needs_a_token(string url)
    {
        var error = Assert.Throws<ArgumentException>(() => new BlobStoreSettings { ServeUrl = url }.Validate());

        Assert.Contains("Blobs:Token", error.Message, StringComparison.Ordinal);
        new BlobStoreSettings { ServeUrl = url, Token = "secret" }.Validate();
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080")]
    [InlineData("http://localhost:8080")]
    [InlineData("http://[::1]:8080")]
    public void A_blob_server_on_loopback_may_go_without_a_token(string url) =>
        new BlobStoreSettings { ServeUrl = url }.Validate();

    [Fact]
    public void The_token_comes_from_a_file_and_a_missing_or_empty_file_is_named()
    {
        using var temp = new TempDirectory();
        var file = Path.Combine(temp.Path, "token");
        File.WriteAllText(file, "  from-a-secret\n");

        Assert.Equal("from-a-secret", new BlobStoreSettings { TokenFile = file }.ResolveToken());
        File.WriteAllText(file, "\n");
        Assert.Contains("is empty", Assert.Throws<ArgumentException>(() => new BlobStoreSettings { TokenFile = file }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", Assert.Throws<ArgumentException>(() => new BlobStoreSettings { TokenFile = file + ".none" }.Validate()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_blob_server_address_must_be_http() =>
        Assert.Contains("http address", Assert.Throws<ArgumentException>(() => new BlobStoreSettings { ServeUrl = "ftp://127.0.0.1:21" }.Validate()).Message, StringComparison.Ordinal);

    [Fact]
    public void An_attempt_has_its_base_time_plus_the_blobs_transfer_at_the_slowest_bandwidth_worth_waiting_for()
    {
        var settings = new BlobStoreSettings { AttemptTimeout = TimeSpan.FromSeconds(30), MinBandwidth = 10_000_000 };

        Assert.Equal(TimeSpan.FromSeconds(30), settings.AttemptTimeoutFor(0));
        Assert.Equal(TimeSpan.FromSeconds(30 + 400), settings.AttemptTimeoutFor(4_000_000_000)); // 4 GB at 10 MB/s
        Assert.Contains("Blobs:MinBandwidth", Assert.Throws<ArgumentException>((settings with { MinBandwidth = 0 }).Validate).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, 16L << 20, 8, "Blobs:S3:Bucket is not set")]
    [InlineData("moe", 1L << 20, 8, "below S3's smallest part")]
    [InlineData("moe", 16L << 20, 0, "Blobs:S3:Parallelism must be at least 1")]
    public void An_s3_store_needs_a_bucket_parts_s3_accepts_and_a_part_in_flight(string? bucket, long partSize, int parallelism, string expected)
    {
        var settings = new BlobStoreSettings { Kind = BlobStoreKind.S3, S3 = new S3BlobSettings { Bucket = bucket, PartSize = partSize, Parallelism = parallelism } };

        Assert.Contains(expected, Assert.Throws<ArgumentException>(settings.Validate).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_s3_endpoint_must_be_an_http_address() =>
        Assert.Contains("Blobs:S3:Endpoint", Assert.Throws<ArgumentException>(() => new BlobStoreSettings
        {
            Kind = BlobStoreKind.S3,
            S3 = new S3BlobSettings { Bucket = "moe", Endpoint = new Uri("ftp://minio:21") },
        }.Validate()).Message, StringComparison.Ordinal);
}
