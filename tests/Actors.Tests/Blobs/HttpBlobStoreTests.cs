using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Moe.Actors.Blobs;
using Moe.Actors.Tests.Support;
using Moe.Testing;
using Polly.CircuitBreaker;

namespace Moe.Actors.Tests.Blobs;

[Trait("Category", "Integration")]
public sealed class HttpBlobStoreTests : BlobStoreContract
{
    private WebApplication? _server;
    private HttpBlobStore? _client;
    private int _corruptNextDownloads;
    private int _downloads;

    private DirectoryBlobStore ServerStore => new(Path.Combine(Temp.Path, "server"));

    protected override IBlobStore Store => _client ??= Client();

    private DirectoryBlobStore Files => ServerStore;

    protected override Task<IReadOnlyList<string>> StoredAsync() => Task.FromResult(BlobWrites.Stored(Files));

    protected override Task DamageAsync(BlobRef blob)
    {
        BlobWrites.Damage(Files, blob);
        return Task.CompletedTask;
    }

    private Uri Url => new(_server!.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    public override async ValueTask InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _server = builder.Build();
        // Damages the body of the next N downloads on the wire, as a flaky network would.
        _server.Use(async (context, next) =>
        {
            if (context.Request.Method != "GET")
            {
                await next(context);
                return;
            }
            Interlocked.Increment(ref _downloads);
            if (Interlocked.Decrement(ref _corruptNextDownloads) < 0)
            {
                Interlocked.Exchange(ref _corruptNextDownloads, 0);
                await next(context);
                return;
            }
            var original = context.Response.Body;
            using var buffer = new MemoryStream();
            context.Response.Body = buffer;
            await next(context);
            var bytes = buffer.ToArray();
            bytes[bytes.Length / 2] ^= 0x01;
            context.Response.Body = original;
            await original.WriteAsync(bytes);
        });
        _server.MapBlobStore(ServerStore, new BlobAccess(Token, AdminToken, MaxUploadBytes: 50_000_000));
        await _server.StartAsync(TestContext.Current.CancellationToken);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
        await base.DisposeAsync();
    }

    private const string Token = "shared-secret";
    private const string AdminToken = "admin-secret";

    private HttpBlobStore Client(int retries = 3) => new(new HttpClient(), new BlobStoreSettings
    {
        Kind = BlobStoreKind.Http,
        Url = Url,
        Token = Token,
        AdminToken = AdminToken,
        Retries = retries,
        RetryDelay = TimeSpan.FromMilliseconds(10),
        AttemptTimeout = TimeSpan.FromSeconds(10),
        BreakAfterFailures = 3,
        BreakDuration = TimeSpan.FromSeconds(30),
    });

    [Fact]
    public async Task A_blob_uploaded_over_http_lands_in_the_servers_directory_and_downloads_verified()
    {
        var client = Client();
        var source = Source(40_000_000); // above Kestrel's default 30 MB request body limit

        var blob = await client.PutAsync(source, TestContext.Current.CancellationToken);
        var copy = Path.Combine(Temp.Path, "copy.bin");
        await client.GetAsync(blob, copy, TestContext.Current.CancellationToken);

        Assert.True(File.Exists(ServerStore.PathOf(blob)));
        Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(copy));
        await client.DeleteAsync(blob, TestContext.Current.CancellationToken);
        Assert.False(File.Exists(ServerStore.PathOf(blob)));
    }

    [Fact]
    public async Task A_download_damaged_in_transit_is_fetched_again()
    {
        var client = Client();
        var source = Source(500_000);
        var blob = await client.PutAsync(source, TestContext.Current.CancellationToken);
        _corruptNextDownloads = 1;
        var copy = Path.Combine(Temp.Path, "copy.bin");

        await client.GetAsync(blob, copy, TestContext.Current.CancellationToken);

        Assert.Equal(2, _downloads);
        Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(copy));
    }

    [Fact]
    public async Task A_blob_that_stays_damaged_is_refused_after_the_retries()
    {
        var client = Client(retries: 2);
        var blob = await client.PutAsync(Source(300_000), TestContext.Current.CancellationToken);
        _corruptNextDownloads = 100;
        var copy = Path.Combine(Temp.Path, "copy.bin");

        await Assert.ThrowsAsync<BlobCorruptedException>(() => client.GetAsync(blob, copy, TestContext.Current.CancellationToken));

        Assert.Equal(3, _downloads);
        Assert.False(File.Exists(copy));
        Assert.Empty(Directory.GetFiles(Temp.Path, "*.partial"));
    }

    [Fact]
    public async Task An_upload_cut_short_never_becomes_visible_on_the_server()
    {
        using var http = Raw(Token);
        var id = new string('b', 64);
        using var content = new StreamContent(new FailingStream(bytesBeforeFailure: 1_500_000));
        content.Headers.ContentLength = 3_000_000;

        await Assert.ThrowsAnyAsync<Exception>(() => http.PutAsync(new Uri(Url, "/blobs/" + id), content, TestContext.Current.CancellationToken));
        // The server notices the aborted body and removes its partial file; the blob itself must never appear.
        await Eventually.Until(() => Directory.GetFiles(ServerStore.Root, "*", SearchOption.AllDirectories).Length == 0,
            TimeSpan.FromSeconds(10), "the partial upload to be removed", cancellation: TestContext.Current.CancellationToken);
        Assert.False(File.Exists(ServerStore.PathOf(id)));
    }

    [Fact]
    public async Task An_upload_whose_content_does_not_match_its_id_is_refused()
    {
        using var http = Raw(Token);
        using var content = new ByteArrayContent([1, 2, 3]);

        using var response = await http.PutAsync(new Uri(Url, "/blobs/" + new string('c', 64)), content, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Empty(Directory.GetFiles(ServerStore.Root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Requests_without_the_token_are_refused_and_deletes_need_the_administrator_token()
    {
        var blob = await Client().PutAsync(Source(10_000), TestContext.Current.CancellationToken);
        var token = TestContext.Current.CancellationToken;
        var address = new Uri(Url, "/blobs/" + blob.Sha256);
        using var stranger = Raw(null);
        using var wrong = Raw("guess");
        using var member = Raw(Token);
        using var body = new ByteArrayContent(new byte[100]);

        Assert.Equal(HttpStatusCode.Unauthorized, (await stranger.GetAsync(address, token)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync(address, token)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await stranger.PutAsync(new Uri(Url, "/blobs/" + new string('d', 64)), body, token)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await stranger.DeleteAsync(address, token)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await member.DeleteAsync(address, token)).StatusCode); // every node holds the shared token

        Assert.Equal([ServerStore.PathOf(blob)], Directory.GetFiles(ServerStore.Root, "*", SearchOption.AllDirectories));
        Assert.Equal(HttpStatusCode.OK, (await member.GetAsync(address, token)).StatusCode);
    }

    [Fact]
    public async Task An_upload_over_the_limit_is_refused_before_its_body_is_read()
    {
        using var http = Raw(Token);
        http.DefaultRequestHeaders.ExpectContinue = true; // as the blob client asks: the server answers before the body
        using var content = new StreamContent(new FailingStream(bytesBeforeFailure: 60_000_000));
        content.Headers.ContentLength = 60_000_000;

        using var response = await http.PutAsync(new Uri(Url, "/blobs/" + new string('e', 64)), content, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("50000000", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(ServerStore.Root, "*", SearchOption.AllDirectories));
    }

    private static HttpClient Raw(string? token)
    {
        var http = new HttpClient();
        if (token is not null)
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    [Fact]
    public async Task With_the_server_gone_the_circuit_opens_and_calls_fail_fast()
    {
        var client = Client(retries: 5);
        var source = Source(1000);
        await _server!.StopAsync(TestContext.Current.CancellationToken);

        await Assert.ThrowsAsync<BrokenCircuitException>(() => client.PutAsync(source, TestContext.Current.CancellationToken));
        // The breaker refuses without calling the server, and refusals are not retried: the call fails at once.
        await Assert.ThrowsAsync<BrokenCircuitException>(() => client.PutAsync(source, TestContext.Current.CancellationToken));
    }
}
