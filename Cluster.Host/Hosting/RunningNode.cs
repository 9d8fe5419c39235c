using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Moe.Actors.Faults;
using Moe.Actors.Hosting;

namespace Moe.Cluster.Host.Hosting;

/// <summary>A started cluster node of this process, stopped with a coordinated shutdown (hand-over, leave).</summary>
internal sealed class RunningNode : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly DataDirectoryLock _lock;
    private readonly NodeFailures _failures;
    private readonly CancellationTokenSource _failed = new();
    private bool _stopped;

    private RunningNode(IHost host, DataDirectoryLock held, NodeSettings settings, int port)
    {
        _host = host;
        _lock = held;
        Settings = settings;
        Port = port;
        System = host.Services.GetRequiredService<ActorSystem>();
        Registry = host.Services.GetRequiredService<IActorRegistry>();
        _failures = host.Services.GetRequiredService<NodeFailures>();
        _failures.Stopped.ContinueWith(_ => _failed.Cancel(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    public NodeSettings Settings { get; }

    public int Port { get; }

    public ActorSystem System { get; }

    public IActorRegistry Registry { get; }

    /// <summary>Cancelled when one of the node's actors reports a permanent failure: the command then ends (see <see cref="ThrowIfFailed"/>).</summary>
    public CancellationToken Failed => _failed.Token;

    /// <summary>Stops the node and throws the permanent failure one of its actors reported, if one did.</summary>
    public async Task ThrowIfFailed()
    {
        if (!_failures.Stopped.IsCompleted)
            return;
        var failure = await _failures.Stopped;
        await DisposeAsync();
        throw new PermanentFailureException(failure.Kind, failure.Message);
    }

    public string Address => $"{Settings.Protocol}://{Settings.SystemName}@{Settings.PublicHostname ?? Settings.Hostname}:{Port}";

    /// <param name="logLevel">Akka's log level on standard output (INFO for a node, WARNING under a progress display).</param>
    public static async Task<RunningNode> StartAsync(NodeSettings settings, string logLevel, CancellationToken cancellation)
    {
        var held = DataDirectoryLock.Acquire(settings.DataDirectory);
        try
        {
            PortCheck.EnsureFree(settings);
            await DatabaseCheck.EnsureReachableAsync(settings, TimeSpan.FromSeconds(60), cancellation);
            var port = settings.Port == 0 ? MoeNodeHost.FreePort() : settings.Port;
            var host = MoeNodeHost.Build(settings, port, akka => akka.AddHocon(
                $"akka.loglevel = {logLevel}\nakka.stdout-loglevel = {logLevel}\nakka.coordinated-shutdown.exit-clr = off", HoconAddMode.Prepend),
                web: HealthEndpoints.Web);
            await host.StartAsync(cancellation);
            return new RunningNode(host, held, settings, port);
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    /// <summary>Waits until this node is a member of the cluster (its seeds answered), or throws after the timeout.</summary>
    public async Task WaitUpAsync(TimeSpan timeout, CancellationToken cancellation)
    {
        var up = new TaskCompletionSource();
        Akka.Cluster.Cluster.Get(System).RegisterOnMemberUp(up.SetResult);
        try
        {
            await up.Task.WaitAsync(timeout, cancellation);
        }
        catch (TimeoutException)
        {
            throw new InvalidOperationException(
                $"This node did not join the cluster within {timeout.TotalSeconds:F0} s: " + (Settings.Discovery.Method == DiscoveryMethod.Kubernetes
                    ? $"check that pods matching {Settings.Discovery.PodLabelSelector} run, expose port \"{DiscoverySettings.ManagementPortName}\", and that the service account may list pods."
                    : $"check that a seed ({string.Join(", ", Settings.Seeds)}) is running and reachable."));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopped)
            return;
        _stopped = true;
        // The cluster leaves first, while the HTTP endpoints still answer: /readyz says "shutting down" (Kubernetes
        // stops sending work) and /healthz stays live (no restart mid-hand-over). Then the host stops the rest.
        await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance);
        await _host.StopAsync(CancellationToken.None);
        _host.Dispose();
        _lock.Dispose();
        _failed.Dispose();
    }
}
