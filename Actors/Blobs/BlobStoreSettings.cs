namespace Moe.Actors.Blobs;

public enum BlobStoreKind
{
    /// <summary>A directory: the data directory on one machine, or a volume every node mounts.</summary>
    Directory,

    /// <summary>The coordinator node's HTTP endpoint, for nodes without a shared volume.</summary>
    Http,
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

    /// <summary>Each HTTP attempt is cut off after this long (large parameter files need minutes on slow links).</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromMinutes(2);

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

    public IBlobStore Create(string dataDirectory, HttpClient? client = null) => Kind switch
    {
        BlobStoreKind.Directory => new DirectoryBlobStore(Directory ?? Path.Combine(dataDirectory, "blobs")),
        _ => new HttpBlobStore(client ?? new HttpClient(), this),
    };

    public void Validate()
    {
        if (Kind == BlobStoreKind.Http && Url is not { IsAbsoluteUri: true })
            throw new ArgumentException($"Blobs:Url must be an absolute http(s) address when Blobs:Kind is Http, got \"{Url}\".");
        if (ServeUrl is not null && Kind != BlobStoreKind.Directory)
            throw new ArgumentException("Blobs:ServeUrl serves the node's directory store: it needs Blobs:Kind = Directory.");
        if (ServeUrl is not null && !Uri.TryCreate(ServeUrl, UriKind.Absolute, out _))
            throw new ArgumentException($"Blobs:ServeUrl \"{ServeUrl}\" is not an absolute http address.");
        if (AttemptTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"Blobs:AttemptTimeout must be positive, got {AttemptTimeout}.");
        if (Retries < 1)
            throw new ArgumentException($"Blobs:Retries must be at least 1, got {Retries}.");
        if (BreakAfterFailures < 2)
            throw new ArgumentException($"Blobs:BreakAfterFailures must be at least 2, got {BreakAfterFailures}.");
    }
}
