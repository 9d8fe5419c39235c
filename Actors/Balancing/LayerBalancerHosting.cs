using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Akka.Pattern;
using Moe.Actors.Faults;
using Moe.Actors.Hosting;
using Moe.Observability;

namespace Moe.Actors.Balancing;

/// <summary>Marker for the layer balancers' shard region in the actor registry.</summary>
public sealed class LayerBalancerRegion;

public static class LayerBalancerHosting
{
    public const string TypeName = "layer-balancer";

    /// <summary>
    /// Hosts the layer balancer shards on balancer nodes and a proxy elsewhere. Each entity runs under a backoff
    /// supervisor: a journal failure stops the balancer, which then restarts and recovers its acknowledged q.
    /// </summary>
    public static AkkaConfigurationBuilder WithLayerBalancers(this AkkaConfigurationBuilder builder, NodeSettings node, NodeMetrics metrics, NodeFailures failures)
    {
        var extractor = new BalancerMessageExtractor();
        if (!node.Has(NodeRoles.Balancer))
            return builder.WithShardRegionProxy<LayerBalancerRegion>(TypeName, NodeRoles.Balancer, extractor);

        var settings = node.Balancer;
        return builder.WithShardRegion<LayerBalancerRegion>(
            TypeName,
            entityId => BackoffSupervisor.Props(
                Backoff.OnStop(
                        LayerBalancer.Props(LayerKey.Parse(entityId), settings, metrics, failures),
                        "balancer",
                        settings.MinBackoff,
                        settings.MaxBackoff,
                        randomFactor: 0.2,
                        maxNrOfRetries: -1)
                    .WithFinalStopMessage(m => m is PoisonPill)),
            extractor,
            new ShardOptions { Role = NodeRoles.Balancer, RememberEntities = false });
    }

    private sealed class BalancerMessageExtractor() : HashCodeMessageExtractor(maxNumberOfShards: 50)
    {
        public override string? EntityId(object message) => message switch
        {
            IBalancerCommand c => new LayerKey(c.JobId, c.Layer).EntityId,
            _ => null,
        };
    }
}
