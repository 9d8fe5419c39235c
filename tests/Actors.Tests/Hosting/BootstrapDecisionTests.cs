using Moe.Actors.Hosting.Bootstrap;

namespace Moe.Actors.Tests.Hosting;

public sealed class BootstrapDecisionTests
{
    private const string A = "akka.tcp://moe@10.0.0.2:4053", B = "akka.tcp://moe@10.0.0.10:4053", C = "akka.tcp://moe@10.0.0.3:4053";

    private static ContactProbe Probe(string self, params string[] members) => new(new Uri("http://x/"), self, members);

    [Fact]
    public void A_peer_in_a_cluster_is_joined_whatever_else_holds()
    {
        var step = BootstrapDecision.Decide(A, discovered: 1, [Probe(A), Probe(B, B, C)], required: 5, stable: false);

        Assert.Equal([B, C], Assert.IsType<BootstrapStep.JoinSeeds>(step).Seeds.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_node_never_joins_its_own_previous_incarnation()
    {
        var onlySelf = BootstrapDecision.Decide(A, 2, [Probe(B, A)], required: 1, stable: true);
        var selfAndOthers = BootstrapDecision.Decide(A, 2, [Probe(B, A, B)], required: 1, stable: true);

        Assert.Contains("previous incarnation", Assert.IsType<BootstrapStep.Wait>(onlySelf).Reason, StringComparison.Ordinal);
        Assert.Equal([B], Assert.IsType<BootstrapStep.JoinSeeds>(selfAndOthers).Seeds);
    }

    [Theory]
    [InlineData(2, 3, true, 2, "2 of the required 3")]
    [InlineData(3, 3, false, 3, "unchanged")]
    [InlineData(3, 3, true, 2, "2 of 3 contact points answered")]
    public void Without_enough_stable_answering_peers_nobody_forms_a_cluster(int discovered, int required, bool stable, int answering, string reason)
    {
        var probes = new[] { Probe(A), Probe(B), Probe(C) }.Take(answering).ToList();

        var step = BootstrapDecision.Decide(A, discovered, probes, required, stable);

        Assert.Contains(reason, Assert.IsType<BootstrapStep.Wait>(step).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_the_lowest_address_forms_the_cluster_hosts_compared_as_text_and_ports_as_numbers()
    {
        // Every node must pick the same founder; like Akka's address ordering, hosts compare ordinally (10.0.0.10 < 10.0.0.2).
        var probes = new[] { Probe(A), Probe(B), Probe(C) };
        const string LowPort = "akka.tcp://moe@10.0.0.10:999";

        Assert.IsType<BootstrapStep.FormCluster>(BootstrapDecision.Decide(B, 3, probes, 3, stable: true));
        Assert.Contains(B, Assert.IsType<BootstrapStep.Wait>(BootstrapDecision.Decide(A, 3, probes, 3, stable: true)).Reason, StringComparison.Ordinal);
        Assert.IsType<BootstrapStep.FormCluster>(BootstrapDecision.Decide(LowPort, 4, [.. probes, Probe(LowPort)], 3, stable: true));
    }
}
