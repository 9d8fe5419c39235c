using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Moe.Actors.Hosting;
using Moe.Actors.Tests.Support;
using Moe.Testing;

namespace Moe.Actors.Tests.Hosting;

/// <summary>Akka remoting over TLS with a cluster certificate, as the Helm chart mounts it from a Secret.</summary>
[Trait("Category", "Integration")]
public sealed class RemotingTlsTests
{
    [Fact]
    public async Task Nodes_with_the_cluster_certificate_form_a_cluster_over_tls_and_a_node_with_another_is_kept_out()
    {
        using var data = new TempDirectory();
        var tls = new RemotingTlsSettings { CertificatePath = TestCertificates.Write(data.Path, "moe-cluster"), CertificatePassword = TestCertificates.Password };
        var stranger = tls with { CertificatePath = TestCertificates.Write(data.Path, "stranger") };

        await using var first = await ClusterNode.StartAsync(ClusterNode.Settings(Path.Combine(data.Path, "a")) with { Tls = tls }, cancellation: TestContext.Current.CancellationToken);
        await using var second = await ClusterNode.StartAsync(ClusterNode.Settings(Path.Combine(data.Path, "b"), NodeRoles.Trainer) with
        {
            Tls = tls,
            Seeds = [first.Address],
        }, cancellation: TestContext.Current.CancellationToken);
        // The seed's refusal of a handshake is the signal: it logs each at warning level.
        var refusals = 0;
        var listener = first.System.ActorOf(Akka.Actor.Props.Create(() => new Refusals(() => Interlocked.Increment(ref refusals))));
        first.System.EventStream.Subscribe(listener, typeof(Akka.Event.Warning));
        var outsiderSettings = ClusterNode.Settings(Path.Combine(data.Path, "c"), NodeRoles.Trainer) with { Tls = stranger, Seeds = [first.Address] };
        using var outsider = MoeNodeHost.Build(outsiderSettings, MoeNodeHost.FreePort(), akka => akka.AddHocon(
            "akka.loglevel = OFF\nakka.stdout-loglevel = OFF\nakka.coordinated-shutdown.exit-clr = off", HoconAddMode.Prepend));
        await outsider.StartAsync(TestContext.Current.CancellationToken);
        await Eventually.Until(() => Volatile.Read(ref refusals) >= 1, TimeSpan.FromSeconds(60), "the seed to refuse the outsider's handshake",
            TestContext.Current.CancellationToken);
        var outsiderSystem = outsider.Services.GetRequiredService<Akka.Actor.ActorSystem>();
        var outsiderStatus = Akka.Cluster.Cluster.Get(outsiderSystem).SelfMember.Status;
        await outsider.StopAsync(TestContext.Current.CancellationToken);

        Assert.Equal(2, Akka.Cluster.Cluster.Get(first.System).State.Members.Count);
        Assert.NotEqual(Akka.Cluster.MemberStatus.Up, outsiderStatus); // its handshake is refused: never a member
    }

    [Fact]
    public void A_missing_or_unreadable_certificate_is_named_at_start()
    {
        using var data = new TempDirectory();
        var missing = ClusterNode.Settings(data.Path) with { Tls = new RemotingTlsSettings { CertificatePath = Path.Combine(data.Path, "none.pfx") } };
        var wrongPassword = ClusterNode.Settings(data.Path) with
        {
            Tls = new RemotingTlsSettings { CertificatePath = TestCertificates.Write(data.Path, "x"), CertificatePassword = "wrong" },
        };

        Assert.Contains("does not exist", Assert.Throws<ArgumentException>(missing.Validate).Message, StringComparison.Ordinal);
        Assert.Contains("could not be read as PKCS#12", Assert.Throws<ArgumentException>(wrongPassword.Validate).Message, StringComparison.Ordinal);
    }

    /// <summary>Counts the handshakes a node's log says it refused.</summary>
    private sealed class Refusals : Akka.Actor.ReceiveActor
    {
        public Refusals(Action refused) =>
            Receive<Akka.Event.Warning>(w => w.Message?.ToString()?.Contains("TLS handshake failure", StringComparison.Ordinal) == true, _ => refused());
    }
}
