namespace Moe.Actors.Hosting.Bootstrap;

/// <summary>What one contact point (a peer pod's management endpoint) said about itself and its cluster.</summary>
/// <param name="SelfAddress">The peer's Akka address, akka.tcp://system@host:port (akka.ssl.tcp with TLS).</param>
/// <param name="Members">Addresses of the Up members of the peer's cluster; empty when it has not joined one.</param>
public sealed record ContactProbe(Uri ContactPoint, string SelfAddress, string[] Members);

/// <summary>The next step of a bootstrapping node.</summary>
public abstract record BootstrapStep
{
    /// <summary>A cluster exists: join it through its members.</summary>
    public sealed record JoinSeeds(string[] Seeds) : BootstrapStep;

    /// <summary>No cluster exists and this node has the lowest address of a stable, complete set of peers: form it.</summary>
    public sealed record FormCluster : BootstrapStep;

    public sealed record Wait(string Reason) : BootstrapStep;
}

/// <summary>
/// The decision of Akka Management's Cluster Bootstrap (lowest-address join decider), as a pure function: join an
/// existing cluster if any peer is in one; otherwise, once at least the required number of peers has been seen, the
/// set has not changed for the stable margin, and every one of them answered, the peer with the lowest address forms
/// the cluster and the others join it on a later probe. Two groups can thus never form two clusters, as long as the
/// required number is more than half of the pods that start together.
/// </summary>
public static class BootstrapDecision
{
    public static BootstrapStep Decide(string selfAddress, int discovered, IReadOnlyList<ContactProbe> answered, int required, bool stable)
    {
        // This node's own address among the members is an earlier incarnation of it (a container restarted with the
        // same pod IP) that peers have not removed yet; joining "itself" could found a second cluster.
        var members = answered.SelectMany(p => p.Members).Where(m => m != selfAddress)
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        if (members.Length > 0)
            return new BootstrapStep.JoinSeeds(members);
        if (answered.Any(p => p.Members.Length > 0))
            return new BootstrapStep.Wait("the only member peers know is this node's previous incarnation; waiting for it to be removed");
        if (discovered < required)
            return new BootstrapStep.Wait($"{discovered} of the required {required} contact points found");
        if (!stable)
            return new BootstrapStep.Wait($"{discovered} contact points found; waiting for the set to stay unchanged");
        if (answered.Count < discovered)
            return new BootstrapStep.Wait($"{answered.Count} of {discovered} contact points answered");
        var lowest = answered.Select(p => p.SelfAddress).Append(selfAddress).Min(AddressOrder.Instance)!;
        return lowest == selfAddress
            ? new BootstrapStep.FormCluster()
            : new BootstrapStep.Wait($"{lowest} has the lowest address and forms the cluster");
    }

    /// <summary>Orders akka.tcp://system@host:port addresses by host, then port as a number.</summary>
    private sealed class AddressOrder : IComparer<string>
    {
        public static AddressOrder Instance { get; } = new();

        public int Compare(string? x, string? y)
        {
            var (hostX, portX) = Split(x ?? "");
            var (hostY, portY) = Split(y ?? "");
            var byHost = string.CompareOrdinal(hostX, hostY);
            return byHost != 0 ? byHost : portX.CompareTo(portY);
        }

        private static (string Host, int Port) Split(string address)
        {
            var colon = address.LastIndexOf(':');
            return colon > 0 && int.TryParse(address.AsSpan(colon + 1), out var port) ? (address[..colon], port) : (address, 0);
        }
    }
}
