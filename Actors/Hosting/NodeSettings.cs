using Moe.Actors.Balancing;
using Moe.Actors.Blobs;
using Moe.Actors.Training;

namespace Moe.Actors.Hosting;

/// <summary>The roles a node may hold (docs/cluster.md). One process may hold all three (the embedded default).</summary>
public static class NodeRoles
{
    public const string Trainer = "trainer";
    public const string Balancer = "balancer";
    public const string Coordinator = "coordinator";

    public static readonly string[] All = [Trainer, Balancer, Coordinator];
}

/// <summary>Everything one node of the cluster needs to start. Bound from configuration; validated at start.</summary>
public sealed record NodeSettings
{
    public string SystemName { get; init; } = "moe";

    /// <summary>The address Akka.Remote binds.</summary>
    public string Hostname { get; init; } = "127.0.0.1";

    /// <summary>0 picks a free port (tests); clusters use a fixed one.</summary>
    public int Port { get; init; } = 4053;

    /// <summary>The address other nodes use to reach this one, when it differs from <see cref="Hostname"/> (pods).</summary>
    public string? PublicHostname { get; init; }

    /// <summary>Seed nodes as "host:port". Empty: this node forms a new cluster with itself.</summary>
    public IReadOnlyList<string> Seeds { get; init; } = [];

    public IReadOnlyList<string> Roles { get; init; } = NodeRoles.All;

    /// <summary>Where the node serves /metrics, /healthz and /readyz, e.g. http://0.0.0.0:9464; null: not served.</summary>
    public string? HttpUrl { get; init; }

    /// <summary>Where the SQLite file and the blob directory live by default.</summary>
    public string DataDirectory { get; init; } = "data";

    public PersistenceSettings Persistence { get; init; } = new();

    public BalancerSettings Balancer { get; init; } = new();

    public BlobStoreSettings Blobs { get; init; } = new();

    public TrainerSettings Trainer { get; init; } = new();

    public DiscoverySettings Discovery { get; init; } = new();

    public RemotingTlsSettings Tls { get; init; } = new();

    /// <summary>Failures of one kind in a row (a journal write, a round) after which a transient failure counts as permanent.</summary>
    public int MaxRetries { get; init; } = 10;

    public bool Has(string role) => Roles.Contains(role);

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(SystemName) || !SystemName.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            throw new ArgumentException($"Node:SystemName \"{SystemName}\" is invalid: use ASCII letters, digits, '-' or '_'.");
        if (Port is < 0 or > 65535)
            throw new ArgumentException($"Node:Port {Port} is invalid: use 0 to 65535.");
        foreach (var role in Roles)
        {
            if (!NodeRoles.All.Contains(role))
                throw new ArgumentException($"Node:Roles \"{role}\" is unknown: use {string.Join(", ", NodeRoles.All)}.");
        }
        if (Roles.Count == 0)
            throw new ArgumentException($"Node:Roles is empty: a node needs at least one of {string.Join(", ", NodeRoles.All)}.");
        foreach (var seed in Seeds)
        {
            var colon = seed.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(seed.AsSpan(colon + 1), out var port) || port is < 1 or > 65535)
                throw new ArgumentException($"Node:Seeds \"{seed}\" is invalid: use HOST:PORT.");
        }
        if (PublicHostname is null && Hostname is "0.0.0.0" or "::")
            throw new ArgumentException($"Node:PublicHostname is required when Node:Hostname \"{Hostname}\" binds every interface: peers need an address to reach this node (on Kubernetes, the pod IP).");
        if (HttpUrl is not null && !(Uri.TryCreate(HttpUrl, UriKind.Absolute, out var http) && http.Scheme is "http" or "https"))
            throw new ArgumentException($"Node:HttpUrl \"{HttpUrl}\" is invalid: use an absolute http address such as http://0.0.0.0:9464.");
        if (HttpUrl is not null && new Uri(HttpUrl).Scheme == "https" && !Tls.Enabled)
            throw new ArgumentException($"Node:HttpUrl {HttpUrl} is https, which needs the cluster certificate: set Node:Tls:CertificatePath, or serve http.");
        if (MaxRetries < 1)
            throw new ArgumentException($"Node:MaxRetries {MaxRetries} is invalid: use 1 or more.");
        _ = Persistence.ResolveConnectionString(DataDirectory);
        Balancer.Validate();
        Blobs.Validate();
        Trainer.Validate();
        Discovery.Validate(this);
        if (Tls.Enabled)
            Tls.Load().Dispose();
        if (Blobs.ServeUrl is { } serve && new Uri(serve).Scheme != (Tls.Enabled ? "https" : "http"))
        {
            throw new ArgumentException(Tls.Enabled
                ? $"Blobs:ServeUrl {serve} is plain http while Node:Tls is set: use https (the blob server then presents the cluster certificate)."
                : $"Blobs:ServeUrl {serve} is https, which needs the cluster certificate: set Node:Tls:CertificatePath, or serve http.");
        }
        if (Tls.Enabled && Blobs is { Kind: BlobStoreKind.Http, Url.Scheme: "http" })
            throw new ArgumentException($"Blobs:Url {Blobs.Url} is plain http while Node:Tls is set: use https, as the cluster's blob servers do.");
    }

    /// <summary>The node's blob store; over HTTPS within a TLS cluster, trusting exactly the cluster certificate.</summary>
    public IBlobStore CreateBlobStore() =>
        Blobs.Create(DataDirectory, Tls.Enabled && Blobs.Kind == BlobStoreKind.Http ? new HttpClient(Tls.PinnedHandler()) : null);

    /// <summary>The configured seeds; none at all under Cluster Bootstrap, which joins the node itself.</summary>
    public string[] SeedAddresses(int boundPort) =>
        Discovery.Method == DiscoveryMethod.Kubernetes ? []
        : Seeds.Count == 0 ? [$"{Protocol}://{SystemName}@{PublicHostname ?? Hostname}:{boundPort}"]
        : [.. Seeds.Select(s => $"{Protocol}://{SystemName}@{s}")];

    /// <summary>The scheme of this cluster's addresses: Akka names the TLS transport differently.</summary>
    public string Protocol => Tls.Enabled ? "akka.ssl.tcp" : "akka.tcp";
}
