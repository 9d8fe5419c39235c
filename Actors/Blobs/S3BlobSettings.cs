namespace Moe.Actors.Blobs;

/// <summary>
/// Where the S3 store keeps its blobs (section "Blobs:S3"). Credentials come from the SDK's standard chain:
/// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the chart sets them from a Secret), a profile, or the instance's role.
/// </summary>
public sealed record S3BlobSettings
{
    /// <summary>The smallest part S3 accepts in a multipart upload, except the last.</summary>
    public const long MinPartSize = 5L << 20;

    public string? Bucket { get; init; }

    /// <summary>Object keys start with this, e.g. "jobs/" to share a bucket.</summary>
    public string Prefix { get; init; } = "moe-blobs/";

    /// <summary>An S3-compatible server's address (MinIO, Ceph RGW, s3rver); null: AWS itself.</summary>
    public Uri? Endpoint { get; init; }

    /// <summary>The region requests are signed for; null: the SDK's (AWS_REGION), or us-east-1 with an <see cref="Endpoint"/>.</summary>
    public string? Region { get; init; }

    /// <summary>Addresses buckets as endpoint/bucket/key rather than bucket.endpoint/key: most self-hosted servers need it.</summary>
    public bool PathStyle { get; init; }

    /// <summary>Uploads with aws-chunked content encoding, the SDK's default; servers that do not decode it (s3rver) need false.</summary>
    public bool ChunkedUploads { get; init; } = true;

    /// <summary>Sends and checks the SDK's CRC checksums only where an operation requires them, for servers that do not know them.</summary>
    public bool ChecksumsWhenRequired { get; init; }

    /// <summary>Blobs larger than this go up and come down in parts of this size, in parallel.</summary>
    public long PartSize { get; init; } = 16L << 20;

    /// <summary>Parts in flight at once for one blob.</summary>
    public int Parallelism { get; init; } = 8;

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Bucket))
            throw new ArgumentException("Blobs:S3:Bucket is not set: name the bucket that holds the blobs (Blobs:Kind is S3).");
        if (Endpoint is not null && !(Endpoint.IsAbsoluteUri && Endpoint.Scheme is "http" or "https"))
            throw new ArgumentException($"Blobs:S3:Endpoint \"{Endpoint}\" is invalid: use an absolute http(s) address such as http://minio:9000.");
        if (PartSize < MinPartSize)
            throw new ArgumentException($"Blobs:S3:PartSize = {PartSize} is below S3's smallest part, {MinPartSize} bytes (5 MiB).");
        if (Parallelism < 1)
            throw new ArgumentException($"Blobs:S3:Parallelism must be at least 1, got {Parallelism}.");
    }
}
