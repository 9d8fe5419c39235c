using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Moe.Actors.Hosting;
using Moe.Actors.Tests.Support;

namespace Moe.Actors.Tests.Hosting;

/// <summary>Akka remoting over TLS with a cluster certificate, as the Helm chart mounts it from a Secret.</summary>
[Trait("Category", "Integration")]
public sealed class RemotingTlsTests
{
    private static string Certificate(string folder, string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var path = Path.Combine(folder, $"{name}.pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pkcs12, "secret"));
        return path;
    }

    [Fact]
    public async Task Nodes_with_the_cluster_certificate_form_a_cluster_over_tls_and_a_node_with_another_is_kept_out()
    {
        using var data = new TempDirectory();
        var tls = new RemotingTlsSettings { CertificatePath = Certificate(data.Path, "moe-cluster"), CertificatePassword = "secret" };
        var stranger = tls with { CertificatePath = Certificate(data.Path, "stranger") };

        await using var first = await TestNode.StartAsync(TestNode.Settings(Path.Combine(data.Path, "a")) with { Tls = tls });
        await using var second = await TestNode.StartAsync(TestNode.Settings(Path.Combine(data.Path, "b"), NodeRoles.Trainer) with
        {
            Tls = tls,
            Seeds = [first.Address],
        });
        var outsiderSettings = TestNode.Settings(Path.Combine(data.Path, "c"), NodeRoles.Trainer) with { Tls = stranger, Seeds = [first.Address] };
        using var outsider = MoeNodeHost.Build(outsiderSettings, MoeNodeHost.FreePort(), akka => akka.AddHocon(
            "akka.loglevel = OFF\nakka.stdout-loglevel = OFF\nakka.coordinated-shutdown.exit-clr = off", HoconAddMode.Prepend));
        await outsider.StartAsync(TestContext.Current.CancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(6), TestContext.Current.CancellationToken); // several join attempts
        var outsiderStatus = Akka.Cluster.Cluster.Get(outsider.Services.GetRequiredService<Akka.Actor.ActorSystem>()).SelfMember.Status;
        await outsider.StopAsync(TestContext.Current.CancellationToken);

        Assert.Equal(2, Akka.Cluster.Cluster.Get(first.System).State.Members.Count);
        Assert.NotEqual(Akka.Cluster.MemberStatus.Up, outsiderStatus); // its handshake is refused: never a member
    }

    [Fact]
    public void A_missing_or_unreadable_certificate_is_named_at_start()
    {
        using var data = new TempDirectory();
        var missing = TestNode.Settings(data.Path) with { Tls = new RemotingTlsSettings { CertificatePath = Path.Combine(data.Path, "none.pfx") } };
        var wrongPassword = TestNode.Settings(data.Path) with
        {
            Tls = new RemotingTlsSettings { CertificatePath = Certificate(data.Path, "x"), CertificatePassword = "wrong" },
        };

        Assert.Contains("does not exist", Assert.Throws<ArgumentException>(missing.Validate).Message, StringComparison.Ordinal);
        Assert.Contains("could not be read as PKCS#12", Assert.Throws<ArgumentException>(wrongPassword.Validate).Message, StringComparison.Ordinal);
    }
}
