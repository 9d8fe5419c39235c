using Akka.Hosting;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moe.Actors.Hosting;
using Moe.Actors.Hosting.Bootstrap;
using Moe.Actors.Tests.Support;
using Moe.Testing;

namespace Moe.Actors.Tests.Hosting;

/// <summary>
/// Cluster Bootstrap as the Helm chart configures it, short of a Kubernetes cluster: real nodes list their pods
/// through the real Kubernetes client from a stand-in API server, probe each other over HTTP and form one cluster.
/// </summary>
[Trait("Category", "Integration")]
public sealed class KubernetesBootstrapTests : IAsyncDisposable
{
    private readonly List<V1Pod> _pods = [];
    private readonly List<IHost> _hosts = [];
    private WebApplication? _api;
    private int _listings;
    private bool _apiFails;

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.StopAsync(CancellationToken.None);
            host.Dispose();
        }
        if (_api is not null)
            await _api.DisposeAsync();
    }

    /// <summary>The one request the bootstrap makes: list the namespace's pods with a label selector.</summary>
    private async Task<string> StartApiServerAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var url = $"http://127.0.0.1:{MoeNodeHost.FreePort()}";
        builder.WebHost.UseUrls(url);
        _api = builder.Build();
        _api.MapGet("/api/v1/namespaces/{ns}/pods", (string ns, string labelSelector) =>
        {
            Interlocked.Increment(ref _listings);
            if (Volatile.Read(ref _apiFails))
                return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
            lock (_pods)
            {
                var items = ns == "moe-test" && labelSelector == "app.kubernetes.io/instance=test" ? _pods.ToList() : [];
                return Results.Text(KubernetesJson.Serialize(new V1PodList { Items = items }), "application/json");
            }
        });
        await _api.StartAsync(TestContext.Current.CancellationToken);
        return url;
    }

    /// <summary>Waits until the nodes have listed the pods this many more times: each listing is a chance to decide.</summary>
    private Task ListingsAsync(int more)
    {
        var target = Volatile.Read(ref _listings) + more;
        return Eventually.Until(() => Volatile.Read(ref _listings) >= target, TimeSpan.FromSeconds(60), $"{more} pod listings");
    }

    private static V1Pod Pod(string name, int managementPort, string phase = "Running") => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1PodSpec
        {
            Containers = [new V1Container { Name = "node", Ports = [new V1ContainerPort { Name = "remoting", ContainerPort = 4053 }, new V1ContainerPort { Name = DiscoverySettings.ManagementPortName, ContainerPort = managementPort }] }],
        },
        Status = new V1PodStatus
        {
            Phase = phase,
            PodIP = "127.0.0.1",
            ContainerStatuses = [new V1ContainerStatus { Name = "node", State = new V1ContainerState { Running = new V1ContainerStateRunning() } }],
        },
    };

    private async Task<Akka.Cluster.Cluster> StartNodeAsync(string api, string data, int required)
    {
        var http = MoeNodeHost.FreePort();
        lock (_pods)
            _pods.Add(Pod($"pod-{_pods.Count}", http));
        var settings = ClusterNode.Settings(data, NodeRoles.Balancer) with
        {
            HttpUrl = $"http://127.0.0.1:{http}",
            Discovery = new DiscoverySettings
            {
                Method = DiscoveryMethod.Kubernetes,
                PodLabelSelector = "app.kubernetes.io/instance=test",
                PodNamespace = "moe-test",
                RequiredContactPoints = required,
                ProbeInterval = TimeSpan.FromMilliseconds(200),
                StableMargin = TimeSpan.FromSeconds(1),
                ApiServer = api,
            },
        };
        var host = MoeNodeHost.Build(settings, MoeNodeHost.FreePort(), akka => akka.AddHocon(
            "akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING\nakka.coordinated-shutdown.exit-clr = off", HoconAddMode.Prepend));
        _hosts.Add(host);
        await host.StartAsync(TestContext.Current.CancellationToken);
        return Akka.Cluster.Cluster.Get(host.Services.GetRequiredService<Akka.Actor.ActorSystem>());
    }

    [Fact]
    public async Task Pods_found_through_the_kubernetes_api_form_one_cluster_founded_by_the_lowest_address_and_later_pods_join_it()
    {
        using var data = new TempDirectory();
        var api = await StartApiServerAsync();

        // Two of three started: below the required three, nobody may form a cluster.
        var first = await StartNodeAsync(api, data.Path, required: 3);
        var second = await StartNodeAsync(api, data.Path, required: 3);
        await ListingsAsync(30); // two nodes probing every 200 ms: 3 s of decisions, well past the 1 s stable margin
        var earlyStatus = (first.SelfMember.Status, second.SelfMember.Status);
        var third = await StartNodeAsync(api, data.Path, required: 3);
        Akka.Cluster.Cluster[] founders = [first, second, third];
        await Eventually.Until(() => founders.All(c => c.State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up) == 3),
            TimeSpan.FromSeconds(60), "three Up members seen by every node", cancellation: TestContext.Current.CancellationToken);
        var late = await StartNodeAsync(api, data.Path, required: 3); // a trainer pod scaled up later
        await Eventually.Until(() => late.SelfMember.Status == Akka.Cluster.MemberStatus.Up, TimeSpan.FromSeconds(60), "the late pod to join", cancellation: TestContext.Current.CancellationToken);

        Assert.Equal((Akka.Cluster.MemberStatus.Removed, Akka.Cluster.MemberStatus.Removed), earlyStatus); // Removed: not yet a member
        var lowest = founders.Select(c => c.SelfAddress).MinBy(a => a.Port)!;
        var oldest = first.State.Members.Where(m => founders.Any(c => c.SelfAddress == m.Address)).Aggregate((x, y) => x.IsOlderThan(y) ? x : y);
        Assert.Equal(lowest, oldest.Address); // the lowest address formed the cluster; the others joined it
        Assert.Equal(4, late.State.Members.Count);
    }

    [Fact]
    public async Task A_failing_api_server_keeps_the_node_out_of_any_cluster_and_a_missing_selector_is_refused()
    {
        using var data = new TempDirectory();
        var api = await StartApiServerAsync();
        _apiFails = true;
        var cluster = await StartNodeAsync(api, data.Path, required: 1);
        await ListingsAsync(10); // ten failed listings, each followed by the node's decision to wait
        var settings = ClusterNode.Settings(data.Path) with
        {
            HttpUrl = "http://127.0.0.1:1",
            Discovery = new DiscoverySettings { Method = DiscoveryMethod.Kubernetes },
        };

        Assert.NotEqual(Akka.Cluster.MemberStatus.Up, cluster.SelfMember.Status);
        Assert.Contains("Discovery:PodLabelSelector is required", Assert.Throws<ArgumentException>(settings.Validate).Message, StringComparison.Ordinal);
        Assert.Contains("Node:Seeds must be empty",
            Assert.Throws<ArgumentException>((settings with { Seeds = ["127.0.0.1:4053"] }).Validate).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_running_pods_with_an_ip_a_management_port_and_a_running_container_are_contact_points()
    {
        var running = Pod("a", 9464);
        var terminating = Pod("b", 9464);
        terminating.Metadata.DeletionTimestamp = DateTime.UtcNow;
        var noPort = Pod("c", 9464);
        noPort.Spec.Containers[0].Ports = [new V1ContainerPort { Name = "remoting", ContainerPort = 4053 }];
        var noIp = Pod("d", 9464);
        noIp.Status.PodIP = null;
        var crashLooping = Pod("f", 9464);
        crashLooping.Status.ContainerStatuses[0].State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "CrashLoopBackOff" } };
        var ipv6 = Pod("g", 9464);
        ipv6.Status.PodIP = "fd00::5";

        Assert.Equal(new Uri("http://127.0.0.1:9464/"), KubernetesPods.ContactPoint(running));
        Assert.Null(KubernetesPods.ContactPoint(terminating));
        Assert.Null(KubernetesPods.ContactPoint(Pod("e", 9464, phase: "Pending")));
        Assert.Null(KubernetesPods.ContactPoint(noPort));
        Assert.Null(KubernetesPods.ContactPoint(noIp));
        Assert.Null(KubernetesPods.ContactPoint(crashLooping));
        Assert.Equal(new Uri("http://[fd00::5]:9464/"), KubernetesPods.ContactPoint(ipv6));
    }
}
