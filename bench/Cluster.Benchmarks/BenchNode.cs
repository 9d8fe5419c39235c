using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Moe.Actors.Hosting;

namespace Moe.Benchmarks;

/// <summary>One cluster node of a benchmark, wired like production, quiet unless something goes wrong.</summary>
internal sealed class BenchNode : IAsyncDisposable
{
    private readonly IHost _host;
    private bool _stopped;

    private BenchNode(IHost host, int port)
    {
        _host = host;
        Port = port;
        System = host.Services.GetRequiredService<ActorSystem>();
        Registry = host.Services.GetRequiredService<IActorRegistry>();
    }

    public int Port { get; }

    public ActorSystem System { get; }

    public IActorRegistry Registry { get; }

    /// <param name="hocon">Extra Akka settings; MOE_BENCH_HOCON adds more, to try a setting without a rebuild.</param>
    public static async Task<BenchNode> StartAsync(NodeSettings settings, string? hocon = null, int? port = null)
    {
        hocon += "\n" + Environment.GetEnvironmentVariable("MOE_BENCH_HOCON");
        port ??= MoeNodeHost.FreePort();
        var host = MoeNodeHost.Build(settings with { Port = port.Value }, port.Value, akka => akka.AddHocon(
            "akka.loglevel = ERROR\nakka.stdout-loglevel = ERROR\nakka.coordinated-shutdown.run-by-actor-system-terminate = off\n" + hocon,
            HoconAddMode.Prepend));
        await host.StartAsync();
        var node = new BenchNode(host, port.Value);
        var up = new TaskCompletionSource();
        Akka.Cluster.Cluster.Get(node.System).RegisterOnMemberUp(up.SetResult);
        await up.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return node;
    }

    /// <summary>Vanishes without leaving (as SIGKILL would): peers must detect it and down it.</summary>
    public async Task CrashAsync()
    {
        _stopped = true;
        await ((Akka.Remote.RemoteActorRefProvider)((ExtendedActorSystem)System).Provider).Transport.Shutdown();
        await System.Terminate();
        _host.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopped)
            return;
        _stopped = true;
        await _host.StopAsync();
        _host.Dispose();
    }
}
