using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Moe.Actors.Balancing;
using Moe.Actors.Hosting;

namespace Moe.Testing;

/// <summary>
/// One cluster node in its own generic host and ActorSystem, on a loopback port, wired like production: started,
/// waited for until it is up, crashed as SIGKILL would, or stopped as SIGTERM would.
/// </summary>
public sealed class ClusterNode : IAsyncDisposable
{
    private readonly IHost _host;
    private bool _stopped;

    private ClusterNode(IHost host, int port)
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

    /// <summary>Settings of a node on a free port with its data under <paramref name="dataDirectory"/>; every role when none is given.</summary>
    public static NodeSettings Settings(string dataDirectory, params string[] roles) => new()
    {
        Port = 0,
        DataDirectory = dataDirectory,
        Roles = roles.Length == 0 ? NodeRoles.All : roles,
    };

    /// <param name="configure">Extra Akka configuration, e.g. a journal that fails on purpose.</param>
    /// <param name="logLevel">Akka's log level; the MOE_TEST_LOG variable overrides it (INFO shows the actors' logs).</param>
    /// <param name="productionDowning">Down a crashed node after production's 20 s rather than 3 s (benchmarks of recovery).</param>
    public static async Task<ClusterNode> StartAsync(NodeSettings settings, Action<AkkaConfigurationBuilder>? configure = null,
        string logLevel = "WARNING", bool productionDowning = false, CancellationToken cancellation = default)
    {
        var port = settings.Port == 0 ? MoeNodeHost.FreePort() : settings.Port;
        var level = Environment.GetEnvironmentVariable("MOE_TEST_LOG") ?? logLevel;
        var host = MoeNodeHost.Build(settings with { Port = port }, port, akka =>
        {
            akka.AddHocon($$"""
                akka.loglevel = {{level}}
                akka.stdout-loglevel = {{level}}
                akka.coordinated-shutdown.exit-clr = off
                akka.coordinated-shutdown.run-by-actor-system-terminate = off
                """ + (productionDowning ? "" : "\nakka.cluster.split-brain-resolver.stable-after = 3s"), HoconAddMode.Prepend);
            configure?.Invoke(akka);
        });
        await host.StartAsync(cancellation);
        var node = new ClusterNode(host, port);
        var up = new TaskCompletionSource();
        Akka.Cluster.Cluster.Get(node.System).RegisterOnMemberUp(up.SetResult);
        await up.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellation);
        return node;
    }

    /// <summary>
    /// Kills the node as SIGKILL would, as far as its peers can tell: its transport goes first, so that nothing (no
    /// leave, no death notification of its actors) reaches them; they must notice the silence and down it.
    /// </summary>
    public async Task CrashAsync()
    {
        _stopped = true;
        var provider = (Akka.Remote.RemoteActorRefProvider)((ExtendedActorSystem)System).Provider;
        await provider.Transport.Shutdown();
        await System.Terminate(); // coordinated shutdown is off for Terminate (above)
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
