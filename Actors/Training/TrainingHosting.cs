using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Pattern;
using Moe.Actors.Balancing;
using Moe.Actors.Blobs;
using Moe.Actors.Hosting;
using static TorchSharp.torch;

namespace Moe.Actors.Training;

/// <summary>Marker for the coordinator singleton (its proxy on every node) in the actor registry.</summary>
public sealed class TrainingCoordinatorKey;

/// <summary>Marker for this node's trainer actors in the actor registry (the first one; see <see cref="TrainingHosting"/>).</summary>
public sealed class TrainersKey;

public static class TrainingHosting
{
    public const string CoordinatorName = "training-coordinator";

    /// <summary>The coordinator singleton on coordinator nodes (with a proxy everywhere, through which trainers talk to it).</summary>
    public static AkkaConfigurationBuilder WithTrainingCoordinator(this AkkaConfigurationBuilder builder, NodeSettings node)
    {
        // Akka 1.5.73 logs "failed to find the singleton after 30 seconds" within the first second; our own
        // callers time out with a clearer message, so that noise is off.
        var options = new ClusterSingletonOptions { Role = NodeRoles.Coordinator, LogSingletonIdentificationFailure = false };
        if (!node.Has(NodeRoles.Coordinator))
            return builder.WithSingletonProxy<TrainingCoordinatorKey>(CoordinatorName, options);
        var blobs = node.Blobs.Create(node.DataDirectory);
        // A failed journal write stops a persistent actor; the supervisor starts it again (it recovers from the
        // journal) instead of leaving the cluster without a coordinator until the node restarts.
        return builder.WithSingleton<TrainingCoordinatorKey>(
            CoordinatorName,
            (system, registry, _) => BackoffSupervisor.Props(
                Backoff.OnStop(
                        TrainingCoordinator.Props(blobs, Handoff(system, node), registry.Get<LayerBalancerRegion>()),
                        "coordinator",
                        node.Balancer.MinBackoff,
                        node.Balancer.MaxBackoff,
                        randomFactor: 0.2,
                        maxNrOfRetries: -1)
                    .WithFinalStopMessage(m => m is PoisonPill)),
            options,
            createProxyToo: true);
    }

    /// <summary>One trainer actor per device on trainer nodes.</summary>
    public static AkkaConfigurationBuilder WithTrainers(this AkkaConfigurationBuilder builder, NodeSettings node, int boundPort)
    {
        if (!node.Has(NodeRoles.Trainer))
            return builder;
        var settings = node.Trainer;
        var blobs = node.Blobs.Create(node.DataDirectory);
        return builder.WithActors((system, registry) =>
        {
            var gpus = cuda.is_available() ? cuda.device_count() : 0;
            var count = settings.Count > 0 ? settings.Count : Math.Max(1, gpus);
            for (var k = 0; k < count; k++)
            {
                var device = string.Equals(settings.Device, "auto", StringComparison.OrdinalIgnoreCase) && gpus > 1 ? $"cuda:{k % gpus}" : settings.Device;
                var id = $"{node.PublicHostname ?? node.Hostname}:{boundPort}/trainer-{k}";
                var trainer = system.ActorOf(Trainer.Props(id, device, settings, settings.IntraOpThreadsFor(count), registry.Get<TrainingCoordinatorKey>(),
                    registry.Get<LayerBalancerRegion>(), blobs, Handoff(system, node), Path.Combine(node.DataDirectory, "cache")), $"trainer-{k}");
                if (k == 0)
                    registry.Register<TrainersKey>(trainer);
            }
        });
    }

    private static TensorHandoff? Handoff(ActorSystem system, NodeSettings node) =>
        node.Blobs.LocalHandoff ? TensorHandoff.For(system) : null;
}
