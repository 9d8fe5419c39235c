using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Persistence.Hosting;
using Akka.Persistence.Sql.Hosting;
using Akka.Remote.Hosting;
using Akka.Remote.Transport.DotNetty;
using Moe.Actors.Balancing;
using Moe.Actors.Faults;
using Moe.Actors.Hosting.Bootstrap;
using Moe.Actors.Serialization;
using Moe.Actors.Training;
using Moe.Actors.Training.Slices;
using Moe.Observability;

namespace Moe.Actors.Hosting;

/// <summary>All Akka wiring of a node in one place: remoting, cluster, serializer, persistence and the actors.</summary>
public static class MoeNodeHosting
{
    /// <summary>
    /// Summaries of m = 64 experts x 1,000 bins are ~64 kB after varint coding; leave room above Akka's 128 kB
    /// default for larger layers. Parameters never travel this way (blob store).
    /// </summary>
    public const int MaxFrameSizeBytes = 4 * 1024 * 1024;

    /// <param name="metrics">What this node's actors record (one instance per node).</param>
    /// <param name="failures">Where they report failures that retrying does not mend (one instance per node).</param>
    public static AkkaConfigurationBuilder AddMoeNode(this AkkaConfigurationBuilder builder, NodeSettings node, int boundPort, NodeMetrics metrics,
        NodeFailures failures)
    {
        node.Validate();
        Directory.CreateDirectory(node.DataDirectory);
        var remoting = new RemoteOptions
        {
            HostName = node.Hostname,
            Port = boundPort,
            PublicHostName = node.PublicHostname,
            MaxFrameSize = MaxFrameSizeBytes,
            SendBufferSize = 2 * MaxFrameSizeBytes,
            ReceiveBufferSize = 2 * MaxFrameSizeBytes,
        };
        if (node.Tls.Enabled)
        {
            remoting.EnableSsl = true;
            remoting.Ssl = Tls(node.Tls);
        }
        return builder
            .WithRemoting(remoting)
            .WithClustering(new ClusterOptions
            {
                Roles = [.. node.Roles],
                SeedNodes = node.SeedAddresses(boundPort),
            })
            .WithKubernetesBootstrap(node)
            .WithDistributedPubSub(null!)
            .WithMoeSerializer()
            .WithMoePersistence(node)
            .WithLayerBalancers(node, metrics, failures)
            .WithOuterSlices(node)
            .WithTrainingCoordinator(node, metrics, failures)
            .WithTrainers(node, boundPort, metrics, failures);
    }

    // Peers must present the very certificate this node has (pinned by thumbprint), mutually; no host names (pod IPs).
    private static SslOptions Tls(RemotingTlsSettings tls)
    {
        var certificate = tls.Load();
        return new SslOptions
        {
            X509Certificate = certificate,
            RequireMutualAuthentication = true,
            ValidateCertificateHostname = false,
            CustomValidator = CertificateValidation.PinnedCertificate(certificate.Thumbprint),
        };
    }

    /// <summary>On Kubernetes, the bootstrap that joins the node to its peers (static seeds need nothing).</summary>
    public static AkkaConfigurationBuilder WithKubernetesBootstrap(this AkkaConfigurationBuilder builder, NodeSettings node) =>
        node.Discovery.Method != DiscoveryMethod.Kubernetes
            ? builder
            : builder.WithActors((system, _) => system.ActorOf(ClusterBootstrapper.Props(node.Discovery), "cluster-bootstrap"));

    public static AkkaConfigurationBuilder WithMoeSerializer(this AkkaConfigurationBuilder builder) =>
        builder.WithCustomSerializer("moe", [typeof(IMoeMessage)], system => new MoeSerializer(system));

    public static AkkaConfigurationBuilder WithMoePersistence(this AkkaConfigurationBuilder builder, NodeSettings node)
    {
        var persistence = node.Persistence;
        var connectionString = persistence.ResolveConnectionString(node.DataDirectory);
        if (persistence.Provider != PersistenceProvider.Sqlite)
        {
            return builder.WithSqlPersistence(
                connectionString: connectionString,
                providerName: persistence.ProviderName,
                mode: PersistenceMode.Both,
                autoInitialize: true);
        }

        SqliteFile.UseWriteAheadLog(connectionString);
        var data = SqliteBusyTimeout.DataOptions(connectionString);
        return builder.WithSqlPersistence(
            new Akka.Persistence.Sql.Hosting.SqlJournalOptions { ConnectionString = connectionString, ProviderName = persistence.ProviderName, DataOptions = data },
            new Akka.Persistence.Sql.Hosting.SqlSnapshotOptions { ConnectionString = connectionString, ProviderName = persistence.ProviderName, DataOptions = data });
    }
}
