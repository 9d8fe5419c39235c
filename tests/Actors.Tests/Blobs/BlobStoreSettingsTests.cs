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
}
