using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moe.Actors.Balancing;
using Moe.Actors.Hosting;

namespace Moe.Actors.Tests.Support;

/// <summary>One cluster node in its own generic host and ActorSystem, on a loopback port, wired like production.</summary>
internal sealed class TestNode : IAsyncDisposable
{
    private readonly IHost _host;

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
        var port = settings.Port == 0 ? FreePort() : settings.Port;
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddAkka(settings.SystemName, akka =>
        {
            akka.AddMoeNode(settings, port);
            // MOE_TEST_LOG=INFO shows the actors' logs when a cluster test needs explaining.
            var level = Environment.GetEnvironmentVariable("MOE_TEST_LOG") ?? "WARNING";
            akka.AddHocon($"akka.loglevel = {level}\nakka.stdout-loglevel = {level}\nakka.coordinated-shutdown.exit-clr = off", HoconAddMode.Prepend);
            configure?.Invoke(akka);
        });
        var host = builder.Build();
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

    /// <summary>Stops the node the way a SIGTERM would: coordinated shutdown, shard hand-off, leave.</summary>
    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync(CancellationToken.None);
        _host.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
