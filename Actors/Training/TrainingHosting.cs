using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Pattern;
using Moe.Actors.Balancing;
using Moe.Actors.Blobs;
using Moe.Actors.Faults;
using Moe.Actors.Hosting;
using Moe.Actors.Training.Slices;
using Moe.Model.Training;
using Moe.Observability;

namespace Moe.Actors.Training;

/// <summary>Marker for the coordinator singleton (its proxy on every node) in the actor registry.</summary>
public sealed class TrainingCoordinatorKey;

/// <summary>Marker for this node's trainer actors in the actor registry (the first one; see <see cref="TrainingHosting"/>).</summary>
public sealed class TrainersKey;

public static class TrainingHosting
{
    public const string CoordinatorName = "training-coordinator";

    /// <summary>The coordinator singleton on coordinator nodes (with a proxy everywhere, through which trainers talk to it).</summary>
    public static AkkaConfigurationBuilder WithTrainingCoordinator(this AkkaConfigurationBuilder builder, NodeSettings node, NodeMetrics metrics, NodeFailures failures)
    {
        // Akka 1.5.73 logs "failed to find the singleton after 30 seconds" within the first second; our own
        // callers time out with a clearer message, so that noise is off.
        var options = new ClusterSingletonOptions { Role = NodeRoles.Coordinator, LogSingletonIdentificationFailure = false };
        if (!node.Has(NodeRoles.Coordinator))
            return builder.WithSingletonProxy<TrainingCoordinatorKey>(CoordinatorName, options);
        var blobs = node.CreateBlobStore();
        // A failed journal write stops a persistent actor; the supervisor starts it again (it recovers from the
        // journal) instead of leaving the cluster without a coordinator until the node restarts.
        return builder.WithSingleton<TrainingCoordinatorKey>(
            CoordinatorName,
            (system, registry, _) => BackoffSupervisor.Props(
                Backoff.OnStop(
                        TrainingCoordinator.Props(blobs, node.Blobs, Handoff(system, node), registry.Get<LayerBalancerRegion>(),
                            registry.Get<OuterSliceRegion>(), metrics, failures),
                        "coordinator",
                        node.Balancer.MinBackoff,
                        node.Balancer.MaxBackoff,
                        randomFactor: 0.2,
                        maxNrOfRetries: -1)
                    .WithFinalStopMessage(m => m is PoisonPill)),
            options,
            createProxyToo: true);
    }

    /// <summary>The trainer actors of a trainer node, as <see cref="DevicePolicy"/> places them.</summary>
    public static AkkaConfigurationBuilder WithTrainers(this AkkaConfigurationBuilder builder, NodeSettings node, int boundPort, NodeMetrics metrics, NodeFailures failures)
    {
        if (!node.Has(NodeRoles.Trainer))
            return builder;
        var blobs = node.CreateBlobStore();
        return builder.WithActors((system, registry) =>
        {
            var trainers = DevicePolicy.Trainers(node.Trainer, DevicePolicy.Gpus, Environment.ProcessorCount);
            string? MemoryProblem(JobSpec spec) => MemoryFit.Check(MemoryPlan.For(spec.Model, spec.Training), trainers, node.Has(NodeRoles.Coordinator),
                device => DeviceMemory.Of(device, node.Trainer.DeviceMemory)).Problem;
            for (var k = 0; k < trainers.Count; k++)
            {
                var setup = new TrainerSetup($"{node.PublicHostname ?? node.Hostname}:{boundPort}/trainer-{k}", trainers[k].Device, node.Trainer,
                    trainers[k].IntraOpThreads, blobs, Handoff(system, node), Path.Combine(node.DataDirectory, "cache"), metrics, failures, MemoryProblem);
                var trainer = system.ActorOf(Trainer.Props(setup, registry.Get<TrainingCoordinatorKey>(), registry.Get<LayerBalancerRegion>()), $"trainer-{k}");
                if (k == 0)
                    registry.Register<TrainersKey>(trainer);
            }
        });
    }

    private static TensorHandoff? Handoff(ActorSystem system, NodeSettings node) =>
        node.Blobs.LocalHandoff ? TensorHandoff.For(system) : null;
}
