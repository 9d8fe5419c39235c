using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Moe.Actors.Balancing;
using Moe.Actors.Hosting;

namespace Moe.Actors.Tests.Support;

/// <summary>One cluster node in its own generic host and ActorSystem, on a loopback port, wired like production.</summary>
internal sealed class TestNode : IAsyncDisposable
{
    private readonly IHost _host;
    private bool _stopped;

    private TestNode(IHost host, int port)
    {
        _host = host;
        Port = port;
        System = host.Services.GetRequiredService<ActorSystem>();
        Registry = host.Services.GetRequiredService<IActorRegistry>();
    }

    public int Port { get; }

    public ActorSystem System { get; }

    public IActorRegistry Registry { get; }

    public IActorRef Balancers => Registry.Get<LayerBalancerRegion>();

    public string Address => $"127.0.0.1:{Port}";

    public static async Task<TestNode> StartAsync(NodeSettings settings, Action<AkkaConfigurationBuilder>? configure = null)
    {
        var port = settings.Port == 0 ? MoeNodeHost.FreePort() : settings.Port;
        var host = MoeNodeHost.Build(settings, port, akka =>
        {
            // MOE_TEST_LOG=INFO shows the actors' logs when a cluster test needs explaining.
            var level = Environment.GetEnvironmentVariable("MOE_TEST_LOG") ?? "WARNING";
            akka.AddHocon($$"""
                akka.loglevel = {{level}}
                akka.stdout-loglevel = {{level}}
                akka.coordinated-shutdown.exit-clr = off
                akka.coordinated-shutdown.run-by-actor-system-terminate = off
                # Tests down a crashed node after 3 s, not the production 20 s.
                akka.cluster.split-brain-resolver.stable-after = 3s
                """, HoconAddMode.Prepend);
            configure?.Invoke(akka);
        });
        await host.StartAsync(TestContext.Current.CancellationToken);
        var node = new TestNode(host, port);
        await node.WaitUpAsync();
        return node;
    }

    public static NodeSettings Settings(string dataDirectory, params string[] roles) => new()
    {
        Port = 0,
        DataDirectory = dataDirectory,
        Roles = roles.Length == 0 ? NodeRoles.All : roles,
    };

    private Task WaitUpAsync()
    {
        var up = new TaskCompletionSource();
        Akka.Cluster.Cluster.Get(System).RegisterOnMemberUp(up.SetResult);
        return up.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
    }

    /// <summary>
    /// Kills the node as SIGKILL would, as far as its peers can tell: its transport goes away without leaving the
    /// cluster, so the others must notice it is unreachable and down it.
    /// </summary>
    public async Task CrashAsync()
    {
        _stopped = true;
        // The transport goes first, so that nothing (no leave, no death notification of its actors) reaches the
        // peers: they must notice the silence and down the node (split brain resolver, 3 s in tests).
        var provider = (Akka.Remote.RemoteActorRefProvider)((ExtendedActorSystem)System).Provider;
        await provider.Transport.Shutdown();
        await System.Terminate(); // coordinated shutdown is off for Terminate in tests (below)
        _host.Dispose();
    }

    /// <summary>Stops the node the way a SIGTERM would: coordinated shutdown, shard hand-off, leave.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopped)
            return;
        _stopped = true;
        await _host.StopAsync(CancellationToken.None);
        _host.Dispose();
    }
}
