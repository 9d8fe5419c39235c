namespace Moe.Actors.Blobs;

public enum BlobStoreKind
{
    /// <summary>A directory: the data directory on one machine, or a volume every node mounts.</summary>
    Directory,

    /// <summary>The coordinator node's HTTP endpoint, for nodes without a shared volume.</summary>
    Http,

    /// <summary>An S3 bucket: AWS S3, MinIO, Ceph RGW or another S3-compatible store.</summary>
    S3,
}

/// <summary>Where parameters, deltas and checkpoints go. Bound from configuration (section "Blobs").</summary>
public sealed record BlobStoreSettings
{
    public BlobStoreKind Kind { get; init; } = BlobStoreKind.Directory;

    /// <summary>The blob directory; default: "blobs" in the data directory.</summary>
    public string? Directory { get; init; }

    /// <summary>The HTTP store's base address, e.g. http://coordinator:8080 (Kind = Http).</summary>
    public Uri? Url { get; init; }

    /// <summary>
    /// Where this node serves its directory store over HTTP for nodes without a shared volume, e.g.
    /// http://0.0.0.0:8080 (set on the coordinator's node, whose Kind stays Directory); null: not served.
    /// </summary>
    public string? ServeUrl { get; init; }

    /// <summary>The bucket and how to reach it (Kind = S3).</summary>
    public S3BlobSettings S3 { get; init; } = new();

    /// <summary>Each HTTP attempt is cut off after this long plus the blob's transfer at <see cref="MinBandwidth"/>.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The slowest transfer worth waiting for, in bytes per second: a large blob gets its attempt time from it.</summary>
    public long MinBandwidth { get; init; } = DefaultMinBandwidth;

    public const long DefaultMinBandwidth = 10_000_000;

    /// <summary>How long one attempt at a blob of <paramref name="bytes"/> may take.</summary>
    public TimeSpan AttemptTimeoutFor(long bytes) => AttemptTimeout + TimeSpan.FromSeconds((double)bytes / MinBandwidth);

    /// <summary>Retries after a failed, timed-out or corrupted transfer, with exponential backoff.</summary>
    public int Retries { get; init; } = 4;

    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>After this many consecutive failures the circuit opens and calls fail fast for BreakDuration.</summary>
    public int BreakAfterFailures { get; init; } = 8;

    public TimeSpan BreakDuration { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Trainers and the coordinator of one node hand deltas over in memory instead of the store, and the new
    /// parameters in memory as well as through it (see <see cref="TensorHandoff"/>); false: everything goes through
    /// the store.
    /// </summary>
    public bool LocalHandoff { get; init; } = true;

    /// <summary>
    /// The shared secret every request to a blob server carries (as a bearer token), on the serving node and its
    /// clients alike; null: read it from <see cref="TokenFile"/>, or none (a server then binds only loopback).
    /// </summary>
    public string? Token { get; init; }

    /// <summary>A file holding <see cref="Token"/> (a mounted secret); its surrounding white space is ignored.</summary>
    public string? TokenFile { get; init; }

    /// <summary>
    /// The token that may delete blobs over HTTP. Every node holds the shared token, so it alone cannot delete;
    /// the serving node deletes through its own directory. Null: no deletes over HTTP.
    /// </summary>
    public string? AdminToken { get; init; }

    /// <summary>
    /// Committed rounds whose parameters and momentum the coordinator keeps: when the latest does not read back, the
    /// job goes on from the newest kept one that does.
    /// </summary>
    public int KeepRounds { get; init; } = 2;

    /// <summary>
    /// The largest upload a blob server accepts, in bytes; larger ones are refused (413) before their body is read.
    /// Null: <see cref="UploadLimitFor"/> the job, on a node started with one, else <see cref="DefaultMaxUploadBytes"/>.
    /// </summary>
    public long? MaxUploadBytes { get; init; }

    public const long DefaultMaxUploadBytes = 8L << 30;

    /// <summary>Four times a job's parameters in float32 (a delta, the parameters and the momentum are each one), and room for headers.</summary>
    public static long UploadLimitFor(long parameterCount) => (4 * sizeof(float) * parameterCount) + (1 << 20);

    /// <summary>The shared secret: <see cref="Token"/>, else the content of <see cref="TokenFile"/>, else null.</summary>
    public string? ResolveToken()
    {
        if (Token is not null || TokenFile is null)
            return Token;
        if (!File.Exists(TokenFile))
            throw new ArgumentException($"Blobs:TokenFile {TokenFile} does not exist: point it at the file that holds the blob store's token.");
        var token = File.ReadAllText(TokenFile).Trim();
        return token.Length > 0 ? token : throw new ArgumentException($"Blobs:TokenFile {TokenFile} is empty: it must hold the blob store's token.");
    }

    private static bool IsLoopback(Uri url) =>
        url.IsLoopback || (System.Net.IPAddress.TryParse(url.Host.Trim('[', ']'), out var address) && System.Net.IPAddress.IsLoopback(address));

    public IBlobStore Create(string dataDirectory, HttpClient? client = null) => Kind switch
    {
        BlobStoreKind.Directory => new DirectoryBlobStore(Directory ?? Path.Combine(dataDirectory, "blobs")),
        BlobStoreKind.S3 => new S3BlobStore(this),
        _ => new HttpBlobStore(client ?? new HttpClient(), this),
    };

    public void Validate()
    {
        if (Kind == BlobStoreKind.Http && Url is not { IsAbsoluteUri: true })
            throw new ArgumentException($"Blobs:Url must be an absolute http(s) address when Blobs:Kind is Http, got \"{Url}\".");
        if (Kind == BlobStoreKind.S3)
            S3.Validate();
        if (ServeUrl is not null && Kind != BlobStoreKind.Directory)
            throw new ArgumentException("Blobs:ServeUrl serves the node's directory store: it needs Blobs:Kind = Directory.");
        if (ServeUrl is not null && !(Uri.TryCreate(ServeUrl, UriKind.Absolute, out var serve) && serve.Scheme is "http" or "https"))
            throw new ArgumentException($"Blobs:ServeUrl \"{ServeUrl}\" is invalid: use an absolute http address such as http://127.0.0.1:8080.");
        var token = ResolveToken();
        if (ServeUrl is not null && token is null && !IsLoopback(new Uri(ServeUrl)))
            throw new ArgumentException($"Blobs:ServeUrl {ServeUrl} is reachable from other machines but no Blobs:Token or Blobs:TokenFile is set: set a shared secret, or serve on 127.0.0.1.");
        if (KeepRounds < 1)
            throw new ArgumentException($"Blobs:KeepRounds = {KeepRounds} is invalid: use 1 or more.");
        if (MaxUploadBytes is < 1)
            throw new ArgumentException($"Blobs:MaxUploadBytes must be positive, got {MaxUploadBytes}.");
        if (AttemptTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"Blobs:AttemptTimeout must be positive, got {AttemptTimeout}.");
        if (MinBandwidth < 1)
            throw new ArgumentException($"Blobs:MinBandwidth must be positive (bytes per second), got {MinBandwidth}.");
        if (Retries < 1)
            throw new ArgumentException($"Blobs:Retries must be at least 1, got {Retries}.");
        if (BreakAfterFailures < 2)
            throw new ArgumentException($"Blobs:BreakAfterFailures must be at least 2, got {BreakAfterFailures}.");
    }
}
