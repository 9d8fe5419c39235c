using Moe.Actors.Blobs;
using Moe.Actors.Hosting;
using Moe.Actors.Tests.Support;
using Moe.Testing;

namespace Moe.Actors.Tests.Blobs;

/// <summary>With Node:Tls set, a node serves its blobs over HTTPS with the cluster certificate, which its peers pin.</summary>
[Trait("Category", "Integration")]
public sealed class BlobServerTlsTests : IDisposable
{
    private const string Token = "shared-secret";

    private readonly TempDirectory _data = new();

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task A_tls_node_serves_blobs_over_https_to_peers_with_the_cluster_certificate_only()
    {
        var token = TestContext.Current.CancellationToken;
        var tls = new RemotingTlsSettings { CertificatePath = TestCertificates.Write(_data.Path, "moe-cluster"), CertificatePassword = TestCertificates.Password };
        var url = new Uri($"https://127.0.0.1:{MoeNodeHost.FreePort()}");
        await using var server = await ClusterNode.StartAsync(ClusterNode.Settings(Path.Combine(_data.Path, "server"), NodeRoles.Balancer) with
        {
            Tls = tls,
            Blobs = new BlobStoreSettings { ServeUrl = url.ToString(), Token = Token },
        }, cancellation: token);
        var peer = ClusterNode.Settings(Path.Combine(_data.Path, "peer")) with
        {
            Tls = tls,
            Blobs = new BlobStoreSettings { Kind = BlobStoreKind.Http, Url = url, Token = Token, Retries = 1 },
        };

        var store = peer.CreateBlobStore();
        var blob = await store.WriteAsync((s, t) => s.WriteAsync(new byte[] { 1, 2, 3 }, t).AsTask(), BlobDurability.Durable, token);
        var read = await store.ReadAsync(blob, async (s, t) =>
        {
            using var copy = new MemoryStream();
            await s.CopyToAsync(copy, t);
            return copy.ToArray();
        }, token);

        Assert.Equal(new byte[] { 1, 2, 3 }, read);
        using var stranger = new HttpClient(); // trusts the system's authorities, which never signed the cluster certificate
        await Assert.ThrowsAsync<HttpRequestException>(() => stranger.GetAsync(new Uri(url, $"{BlobEndpoints.Prefix}/{blob.Sha256}"), token));
        using var plain = new HttpClient();
        await Assert.ThrowsAsync<HttpRequestException>(() => plain.GetAsync(new UriBuilder(url) { Scheme = "http" }.Uri, token));
    }

    [Theory]
    [InlineData(true, "http://127.0.0.1:8080", "is plain http while Node:Tls is set")]
    [InlineData(false, "https://127.0.0.1:8080", "needs the cluster certificate")]
    public void A_serve_address_whose_scheme_does_not_match_the_cluster_tls_is_refused(bool tls, string serveUrl, string expected)
    {
        var settings = ClusterNode.Settings(_data.Path) with
        {
            Tls = tls ? new RemotingTlsSettings { CertificatePath = TestCertificates.Write(_data.Path, "c"), CertificatePassword = TestCertificates.Password } : new(),
            Blobs = new BlobStoreSettings { ServeUrl = serveUrl },
        };

        var error = Assert.Throws<ArgumentException>(settings.Validate);

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
