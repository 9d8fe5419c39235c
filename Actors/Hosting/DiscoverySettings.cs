namespace Moe.Actors.Hosting;

public enum DiscoveryMethod
{
    /// <summary>Static seed nodes (Node:Seeds), or none: the node forms a cluster with itself.</summary>
    Seeds,

    /// <summary>
    /// Cluster Bootstrap (the protocol of Akka.Management): the node finds its peers through the Kubernetes API (pods
    /// matching a label selector), asks each for its cluster and joins it, or forms the cluster with them when none has one.
    /// </summary>
    Kubernetes,
}

/// <summary>How a node finds its cluster. Bound from configuration (section "Discovery").</summary>
public sealed record DiscoverySettings
{
    /// <summary>
    /// The container port name, on each pod, of the node's HTTP address (Node:HttpUrl), which serves the bootstrap
    /// probe beside /healthz, /readyz and /metrics.
    /// </summary>
    public const string ManagementPortName = "management";

    public DiscoveryMethod Method { get; init; } = DiscoveryMethod.Seeds;

    /// <summary>Label selector of every pod of this cluster, whatever its role, e.g. app.kubernetes.io/instance=moe.</summary>
    public string? PodLabelSelector { get; init; }

    /// <summary>Namespace of the pods; null: the pod's own (read from its service account).</summary>
    public string? PodNamespace { get; init; }

    /// <summary>
    /// Peers to see before the lowest-addressed of them may form a new cluster: the number of pods that start
    /// first (coordinator and balancer pods), so two halves never form two clusters.
    /// </summary>
    public int RequiredContactPoints { get; init; } = 1;

    /// <summary>How often the pods are listed and probed while the node has not joined.</summary>
    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long the set of pods must stay unchanged before the lowest-addressed one forms a cluster.</summary>
    public TimeSpan StableMargin { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The Kubernetes API address, for running outside a pod (tests); null: the pod's service account.</summary>
    public string? ApiServer { get; init; }

    public void Validate(NodeSettings node)
    {
        if (Method == DiscoveryMethod.Seeds)
            return;
        if (node.Seeds.Count > 0)
            throw new ArgumentException("Node:Seeds must be empty when Discovery:Method is Kubernetes: peers are found through the Kubernetes API.");
        if (string.IsNullOrWhiteSpace(PodLabelSelector))
            throw new ArgumentException("Discovery:PodLabelSelector is required when Discovery:Method is Kubernetes, e.g. app.kubernetes.io/instance=moe.");
        if (node.HttpUrl is null)
            throw new ArgumentException("Node:HttpUrl is required when Discovery:Method is Kubernetes: peers probe it during bootstrap.");
        if (ProbeInterval <= TimeSpan.Zero || StableMargin < TimeSpan.Zero)
            throw new ArgumentException($"Discovery:ProbeInterval {ProbeInterval} and Discovery:StableMargin {StableMargin} must be positive.");
        if (RequiredContactPoints < 1)
            throw new ArgumentException($"Discovery:RequiredContactPoints {RequiredContactPoints} is invalid: use at least 1.");
    }
}
