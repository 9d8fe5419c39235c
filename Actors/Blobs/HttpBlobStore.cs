using System.Net;
using System.Net.Http.Headers;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace Moe.Actors.Blobs;

/// <summary>
/// Client of <see cref="BlobEndpoints"/>. Every call runs through one Polly pipeline: retries with exponential
/// backoff and jitter (network errors, 5xx, timeouts, damaged downloads), a circuit breaker that fails fast while
/// the server is down, and a timeout per attempt. A download that does not match its hash is fetched again and
/// refused if it stays damaged.
/// </summary>
public sealed class HttpBlobStore : IBlobStore
{
    private const int BufferSize = 1 << 20;

    private readonly HttpClient _client;
    private readonly Uri _root;
    private readonly ResiliencePipeline _pipeline;
    private readonly string? _adminToken;

    /// <summary>The size of the blob an attempt moves, which its timeout follows.</summary>
    private static readonly ResiliencePropertyKey<long> SizeKey = new("moe.blob-size");

    public HttpBlobStore(HttpClient client, BlobStoreSettings settings)
    {
        settings.Validate();
        _client = client;
        _client.Timeout = Timeout.InfiniteTimeSpan; // the pipeline times each attempt
        if (settings.ResolveToken() is { } token)
            _client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        _client.DefaultRequestHeaders.ExpectContinue = true; // a refused upload (token, size) is answered before its body goes
        _adminToken = settings.AdminToken;
        _root = new Uri(settings.Url!, BlobEndpoints.Prefix + "/");
        _pipeline = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<HttpRequestException>().Handle<TimeoutRejectedException>()
                    .Handle<BlobCorruptedException>().Handle<IOException>(),
                MaxRetryAttempts = settings.Retries,
                BackoffType = DelayBackoffType.Exponential,
                Delay = settings.RetryDelay,
                UseJitter = true,
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<HttpRequestException>().Handle<TimeoutRejectedException>(),
                FailureRatio = 1.0,
                MinimumThroughput = settings.BreakAfterFailures,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = settings.BreakDuration,
            })
            .AddTimeout(new TimeoutStrategyOptions
            {
                TimeoutGenerator = args => ValueTask.FromResult(settings.AttemptTimeoutFor(args.Context.Properties.GetValue(SizeKey, 0L))),
            })
            .Build();
    }

    /// <summary>
    /// The content is spooled to a local temporary file first: an upload that fails is sent again from it, which a
    /// writer that streams from tensor memory could not do.
    /// </summary>
    public async Task<BlobRef> WriteAsync(Func<Stream, CancellationToken, Task> write, BlobDurability durability, CancellationToken cancellationToken)
    {
        var spool = BlobFiles.TemporaryBeside(Path.Combine(Path.GetTempPath(), "moe-upload"));
        try
        {
            var blob = await HashingStream.WriteFileAsync(spool, write, sync: false, cancellationToken).ConfigureAwait(false);
            await Run(blob, async token =>
            {
                await using var body = File.OpenRead(spool);
                using var content = new StreamContent(body, BufferSize);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                content.Headers.ContentLength = blob.Size;
                content.Headers.Add(BlobEndpoints.DurabilityHeader, durability.ToString());
                using var response = await _client.PutAsync(Address(blob), content, token).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.UnprocessableEntity)
                    throw new BlobCorruptedException($"The server refused upload {blob}: {await response.Content.ReadAsStringAsync(token).ConfigureAwait(false)}");
                await EnsureSuccess(response, blob, token).ConfigureAwait(false);
                return true;
            }, cancellationToken).ConfigureAwait(false);
            return blob;
        }
        finally
        {
            File.Delete(spool);
        }
    }

    public Task<T> ReadAsync<T>(BlobRef blob, Func<Stream, CancellationToken, Task<T>> read, CancellationToken cancellationToken) =>
        Run(blob, async token =>
        {
            using var response = await _client.GetAsync(Address(blob), HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
                throw new FileNotFoundException($"Blob {blob} is not stored at {_root}.");
            await EnsureSuccess(response, blob, token).ConfigureAwait(false);
            await using var body = await response.Content.ReadAsStreamAsync(token).ConfigureAwait(false);
            // A reader may read synchronously (on a compute thread); closing the body ends such a read when the
            // attempt times out or the caller gives up.
            await using var abort = token.Register(body.Dispose);
            await using var verifying = new VerifyingStream(body, blob, _root.ToString());
            try
            {
                return await verifying.Run(read, token).ConfigureAwait(false);
            }
            catch (ObjectDisposedException) when (token.IsCancellationRequested)
            {
                throw new OperationCanceledException(token);
            }
        }, cancellationToken);

    public Task DeleteAsync(BlobRef blob, CancellationToken cancellationToken) =>
        Run(blob with { Size = 0 }, async token =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, Address(blob));
            if (_adminToken is not null)
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _adminToken);
            using var response = await _client.SendAsync(request, token).ConfigureAwait(false);
            await EnsureSuccess(response, blob, token).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <summary>One call through the pipeline, each attempt timed for the blob's size.</summary>
    private async Task<T> Run<T>(BlobRef blob, Func<CancellationToken, Task<T>> attempt, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(SizeKey, blob.Size);
        try
        {
            return await _pipeline.ExecuteAsync(static async (context, attempt) => await attempt(context.CancellationToken).ConfigureAwait(false), context, attempt)
                .ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private Uri Address(BlobRef blob) => new(_root, blob.Sha256);

    // 5xx and 429 are worth retrying (HttpRequestException); other failures are a bug or a refusal: say so once.
    private static async Task EnsureSuccess(HttpResponseMessage response, BlobRef blob, CancellationToken token)
    {
        if (response.IsSuccessStatusCode)
            return;
        var detail = await response.Content.ReadAsStringAsync(token).ConfigureAwait(false);
        var code = (int)response.StatusCode;
        if (code >= 500 || code == 429)
            throw new HttpRequestException($"Blob store answered {code} for {blob}: {detail}", null, response.StatusCode);
        throw new InvalidOperationException($"Blob store refused {blob} with {code}: {detail}");
    }
}
