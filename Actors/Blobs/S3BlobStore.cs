using System.Net;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Polly;
using Polly.Retry;

namespace Moe.Actors.Blobs;

/// <summary>
/// Blobs as objects in an S3 bucket, each named by its SHA-256 under a prefix. An object appears whole or not at
/// all (a multipart upload only once completed), so no reader sees a half-written blob. Blobs larger than a part go
/// up and come down in parts, in parallel. The SDK retries network errors and 5xx itself, each request timed for one
/// part; a download that does not match its hash is fetched again and refused if it stays damaged.
/// </summary>
public sealed class S3BlobStore : IBlobStore
{
    private const int BufferSize = 1 << 20;

    private readonly AmazonS3Client _client;
    private readonly S3BlobSettings _s3;
    private readonly string _origin;
    private readonly ResiliencePipeline _rereads;

    /// <param name="credentials">Null: the SDK's standard chain.</param>
    public S3BlobStore(BlobStoreSettings settings, AWSCredentials? credentials = null)
    {
        settings.Validate();
        _s3 = settings.S3;
        _s3.Validate();
        var config = new AmazonS3Config
        {
            ForcePathStyle = _s3.PathStyle,
            MaxErrorRetry = settings.Retries,
            Timeout = settings.AttemptTimeoutFor(_s3.PartSize),
        };
        if (_s3.Endpoint is { } endpoint)
        {
            config.ServiceURL = endpoint.ToString();
            config.AuthenticationRegion = _s3.Region ?? "us-east-1";
        }
        else if (_s3.Region is { } region)
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
        }
        if (_s3.ChecksumsWhenRequired)
        {
            config.RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
            config.ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED;
        }
        _client = credentials is null ? new AmazonS3Client(config) : new AmazonS3Client(credentials, config);
        _origin = $"s3://{_s3.Bucket}/{_s3.Prefix}";
        _rereads = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<BlobCorruptedException>(),
                MaxRetryAttempts = settings.Retries,
                BackoffType = DelayBackoffType.Exponential,
                Delay = settings.RetryDelay,
                UseJitter = true,
            })
            .Build();
    }

    /// <summary>
    /// The content is spooled to a local temporary file first: it is hashed before its key is known, and a part that
    /// fails is sent again from it. A transient write of content already stored leaves the object as it is.
    /// </summary>
    public async Task<BlobRef> WriteAsync(Func<Stream, CancellationToken, Task> write, BlobDurability durability, CancellationToken cancellationToken)
    {
        var spool = BlobFiles.TemporaryBeside(Path.Combine(Path.GetTempPath(), "moe-upload"));
        try
        {
            var blob = await HashingStream.WriteFileAsync(spool, write, sync: false, cancellationToken).ConfigureAwait(false);
            if (durability == BlobDurability.Transient && await ExistsAsync(blob, cancellationToken).ConfigureAwait(false))
                return blob;
            if (blob.Size <= _s3.PartSize)
            {
                await Call(blob, () => _client.PutObjectAsync(new PutObjectRequest
                {
                    BucketName = _s3.Bucket,
                    Key = Key(blob),
                    FilePath = spool,
                    UseChunkEncoding = _s3.ChunkedUploads,
                }, cancellationToken)).ConfigureAwait(false);
            }
            else
            {
                await UploadInPartsAsync(spool, blob, cancellationToken).ConfigureAwait(false);
            }
            return blob;
        }
        finally
        {
            File.Delete(spool);
        }
    }

    public Task<T> ReadAsync<T>(BlobRef blob, Func<Stream, CancellationToken, Task<T>> read, CancellationToken cancellationToken) =>
        _rereads.ExecuteAsync(async token => blob.Size <= _s3.PartSize
            ? await ReadWholeAsync(blob, read, token).ConfigureAwait(false)
            : await ReadInPartsAsync(blob, read, token).ConfigureAwait(false), cancellationToken).AsTask();

    public Task DeleteAsync(BlobRef blob, CancellationToken cancellationToken) =>
        Call(blob, () => _client.DeleteObjectAsync(_s3.Bucket, Key(blob), cancellationToken));

    // A HEAD answer has no body, so a missing key is only its 404; other refusals are named as for any request.
    private Task<bool> ExistsAsync(BlobRef blob, CancellationToken cancellationToken) => Call(blob, async () =>
    {
        try
        {
            await _client.GetObjectMetadataAsync(_s3.Bucket, Key(blob), cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    });

    private async Task UploadInPartsAsync(string spool, BlobRef blob, CancellationToken cancellationToken)
    {
        var upload = await Call(blob, () => _client.InitiateMultipartUploadAsync(_s3.Bucket, Key(blob), cancellationToken)).ConfigureAwait(false);
        try
        {
            var parts = new PartETag[Parts(blob)];
            await Parallel.ForEachAsync(Enumerable.Range(0, parts.Length), Options(cancellationToken), async (k, token) =>
            {
                var response = await Call(blob, () => _client.UploadPartAsync(new UploadPartRequest
                {
                    BucketName = _s3.Bucket,
                    Key = Key(blob),
                    UploadId = upload.UploadId,
                    PartNumber = k + 1,
                    FilePath = spool,
                    FilePosition = k * _s3.PartSize,
                    PartSize = Math.Min(_s3.PartSize, blob.Size - (k * _s3.PartSize)),
                    UseChunkEncoding = _s3.ChunkedUploads,
                }, token)).ConfigureAwait(false);
                parts[k] = new PartETag(k + 1, response.ETag);
            }).ConfigureAwait(false);
            await Call(blob, () => _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _s3.Bucket,
                Key = Key(blob),
                UploadId = upload.UploadId,
                PartETags = [.. parts],
            }, cancellationToken)).ConfigureAwait(false);
        }
        catch
        {
            // The parts of an upload never completed are invisible to readers but cost storage until aborted; if this
            // abort fails too, a bucket lifecycle rule for incomplete uploads collects them.
            try
            {
                await _client.AbortMultipartUploadAsync(_s3.Bucket, Key(blob), upload.UploadId, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is AmazonServiceException or HttpRequestException or IOException)
            {
            }
            throw;
        }
    }

    private async Task<T> ReadWholeAsync<T>(BlobRef blob, Func<Stream, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        using var response = await Get(blob, new GetObjectRequest { BucketName = _s3.Bucket, Key = Key(blob) }, cancellationToken).ConfigureAwait(false);
        await using var body = response.ResponseStream;
        // A reader may read synchronously (on a compute thread); closing the body ends such a read when the caller
        // gives up.
        await using var abort = cancellationToken.Register(body.Dispose);
        await using var verifying = new VerifyingStream(body, blob, _origin);
        try
        {
            return await verifying.Run(read, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectDisposedException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }

    /// <summary>The parts come down in parallel into a local work file, which is then read through the hash check.</summary>
    private async Task<T> ReadInPartsAsync<T>(BlobRef blob, Func<Stream, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        var spool = BlobFiles.TemporaryBeside(Path.Combine(Path.GetTempPath(), "moe-download"));
        try
        {
            using (var file = File.OpenHandle(spool, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.Asynchronous, blob.Size))
            {
                await Parallel.ForEachAsync(Enumerable.Range(0, Parts(blob)), Options(cancellationToken), async (k, token) =>
                {
                    var start = k * _s3.PartSize;
                    var end = Math.Min(blob.Size, start + _s3.PartSize) - 1;
                    using var response = await Get(blob, new GetObjectRequest
                    {
                        BucketName = _s3.Bucket,
                        Key = Key(blob),
                        ByteRange = new ByteRange(start, end),
                    }, token).ConfigureAwait(false);
                    var buffer = new byte[BufferSize];
                    var offset = start;
                    int count;
                    while ((count = await response.ResponseStream.ReadAsync(buffer, token).ConfigureAwait(false)) > 0)
                    {
                        // A server that sends more than the range asked for is damaging the blob: the hash check refuses it.
                        count = (int)Math.Min(count, end + 1 - offset);
                        if (count <= 0)
                            break;
                        await RandomAccess.WriteAsync(file, buffer.AsMemory(0, count), offset, token).ConfigureAwait(false);
                        offset += count;
                    }
                }).ConfigureAwait(false);
            }
            await using var local = new FileStream(spool, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, useAsync: true);
            await using var verifying = new VerifyingStream(local, blob, _origin);
            return await verifying.Run(read, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(spool);
        }
    }

    private Task<GetObjectResponse> Get(BlobRef blob, GetObjectRequest request, CancellationToken cancellationToken) =>
        Call(blob, () => _client.GetObjectAsync(request, cancellationToken));

    // Errors the SDK does not retry (4xx) are a refusal: access, a missing bucket, a wrong region. Say which, once.
    private async Task<T> Call<T>(BlobRef blob, Func<Task<T>> request)
    {
        try
        {
            return await request().ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchKey")
        {
            throw new FileNotFoundException($"Blob {blob} is not stored at {_origin}.", e);
        }
        catch (AmazonS3Exception e) when ((int)e.StatusCode is >= 400 and < 500)
        {
            throw new InvalidOperationException($"S3 refused {blob} at {_origin} with {(int)e.StatusCode} {e.ErrorCode}: {e.Message}", e);
        }
    }

    private ParallelOptions Options(CancellationToken cancellationToken) =>
        new() { MaxDegreeOfParallelism = _s3.Parallelism, CancellationToken = cancellationToken };

    private int Parts(BlobRef blob) => (int)((blob.Size + _s3.PartSize - 1) / _s3.PartSize);

    private string Key(BlobRef blob) => _s3.Prefix + blob.Sha256;
}
