using System.Net.Http.Json;
using Akka.Actor;
using Akka.Event;

namespace Moe.Actors.Hosting.Bootstrap;

/// <summary>
/// Joins this node to its cluster on Kubernetes without seed nodes: every probe interval it lists the cluster's
/// pods, asks each one's management endpoint for its cluster (<see cref="BootstrapEndpoint"/>) and follows
/// <see cref="BootstrapDecision"/>. It stops once it has asked Akka to join; Akka's own join retries take over.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "An actor's life ends in PostStop, which releases them.")]
public sealed class ClusterBootstrapper : ReceiveActor, IWithTimers
{
    private readonly DiscoverySettings _settings;
    private readonly KubernetesPods _pods;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(2) };
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private IReadOnlyList<Uri> _seen = [];
    private DateTime _seenSince = DateTime.UtcNow;
    private string? _lastReason;
    private bool _probing;

    public ClusterBootstrapper(DiscoverySettings settings)
    {
        _settings = settings;
        _pods = new KubernetesPods(settings);
        Receive<Tick>(_ => Probe());
        Receive<Probed>(OnProbed);
        Receive<Status.Failure>(f =>
        {
            _probing = false;
            Report($"listing {_pods.Describe()} failed: {f.Cause.GetBaseException().Message}");
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(DiscoverySettings settings) => Akka.Actor.Props.Create(() => new ClusterBootstrapper(settings));

    protected override void PreStart()
    {
        _log.Info("Bootstrapping: looking for {0}; {1} needed before a new cluster forms", _pods.Describe(), _settings.RequiredContactPoints);
        Timers.StartPeriodicTimer("probe", Tick.Instance, TimeSpan.Zero, _settings.ProbeInterval);
    }

    protected override void PostStop()
    {
        _http.Dispose();
        _pods.Dispose();
    }

    private void Probe()
    {
        if (_probing)
            return;
        _probing = true;
        ProbeAsync().PipeTo(Self);
    }

    private async Task<Probed> ProbeAsync()
    {
        var points = await _pods.ContactPointsAsync(CancellationToken.None).ConfigureAwait(false);
        var answers = await Task.WhenAll(points.Select(AskAsync)).ConfigureAwait(false);
        return new Probed(points, [.. answers.OfType<ContactProbe>()]);
    }

    private async Task<ContactProbe?> AskAsync(Uri point)
    {
        try
        {
            var answer = await _http.GetFromJsonAsync<SeedNodesAnswer>(new Uri(point, BootstrapEndpoint.Path)).ConfigureAwait(false);
            return answer is null ? null : new ContactProbe(point, answer.Self, answer.Members);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
        {
            return null; // not up yet, or going away: the next probe asks again
        }
    }

    private void OnProbed(Probed probed)
    {
        _probing = false;
        if (!probed.Points.SequenceEqual(_seen))
            (_seen, _seenSince) = (probed.Points, DateTime.UtcNow);
        var stable = DateTime.UtcNow - _seenSince >= _settings.StableMargin;
        var self = _cluster.SelfAddress.ToString();
        switch (BootstrapDecision.Decide(self, probed.Points.Count, probed.Answers, _settings.RequiredContactPoints, stable))
        {
            case BootstrapStep.JoinSeeds join:
                _log.Info("Bootstrap: joining the cluster of {0}", string.Join(", ", join.Seeds));
                _cluster.JoinSeedNodes(join.Seeds.Select(Address.Parse));
                Context.Stop(Self);
                break;
            case BootstrapStep.FormCluster:
                _log.Info("Bootstrap: no cluster among {0} contact points and this node has the lowest address; forming it", probed.Points.Count);
                _cluster.Join(_cluster.SelfAddress);
                Context.Stop(Self);
                break;
            case BootstrapStep.Wait wait:
                Report(wait.Reason);
                break;
        }
    }

    // Progress at Info level, once per change, so a stuck bootstrap says why without flooding the log.
    private void Report(string reason)
    {
        if (reason == _lastReason)
            return;
        _lastReason = reason;
        _log.Info("Bootstrap: {0}", reason);
    }

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }

    private sealed record Probed(IReadOnlyList<Uri> Points, IReadOnlyList<ContactProbe> Answers);
}
