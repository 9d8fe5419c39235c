using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Moe.Observability;

/// <summary>
/// Every metric one cluster node exports. Each node owns one instance (two nodes in one process export only their
/// own series: its meter's scope is the instance, see <see cref="MetricsEndpoint"/>). Names are Prometheus-style
/// with the moe_ prefix; the exporter adds the unit suffix (_seconds, _bytes) and _total on counters. Series carry
/// the job they belong to; labels are bounded (per-expert series are layers x experts of the running job, per-trainer
/// series one per trainer actor). A gauge stops being exported when what it describes stops on this node; counters
/// and histograms keep their cumulative series.
/// </summary>
public sealed class NodeMetrics : IDisposable
{
    public const string MeterName = "Moe.Cluster";

    private readonly Meter _meter;

    // Latest values behind the observable gauges, keyed by their labels.
    private readonly ConcurrentDictionary<(string Job, int Layer), (long[] Loads, float[] Q, double MaxVio, double EdgeShare)> _layers = new();
    private readonly ConcurrentDictionary<string, (double Loss, long Rounds, long CheckpointBytes)> _jobs = new();
    private readonly ConcurrentDictionary<string, int> _members = new();

    private readonly Histogram<double> _stepDuration;
    private readonly Counter<long> _tokens;
    private readonly Counter<long> _summaries;
    private readonly Histogram<double> _roundDuration;
    private readonly Histogram<double> _parametersWait;
    private readonly Counter<long> _skippedSteps;
    private readonly Counter<long> _joins;
    private readonly Counter<long> _leaves;
    private readonly Histogram<double> _checkpointDuration;

    // Bucket boundaries in seconds, for the range each duration takes (the exporter's default buckets are milliseconds).
    private static readonly double[] StepSeconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    private static readonly double[] RoundSeconds = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
    private static readonly double[] CheckpointSeconds = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

    public NodeMetrics()
    {
        _meter = new Meter(new MeterOptions(MeterName) { Scope = this });
        _stepDuration = Seconds("moe_step_duration", "Duration of one training step, per trainer (stragglers stand out).", StepSeconds);
        _tokens = _meter.CreateCounter<long>("moe_tokens", null, "Tokens trained, per trainer.");
        _summaries = _meter.CreateCounter<long>("moe_balancer_summaries", null,
            "Summaries received by layer balancers, by outcome: accepted, ignored (duplicate or stale) or rejected (malformed); " +
            "rebinned counts accepted ones binned with another read-out window than the step's, moved into it approximately.");
        _roundDuration = Seconds("moe_round_duration",
            "Duration of a training round, from its start (or the previous round's commit, when it overlapped it) to its commit.", RoundSeconds);
        _parametersWait = Seconds("moe_round_parameters_wait",
            "Time a trainer of an overlapped round waited for the previous round's commit before its step OverlapSteps (0: the overlap hid the commit).", StepSeconds);
        _skippedSteps = _meter.CreateCounter<long>("moe_skipped_steps", null,
            "Steps a trainer skipped because their loss or gradient norm was not finite (nothing of them took effect).");
        _joins = _meter.CreateCounter<long>("moe_trainer_joins", null, "Trainers that joined the job.");
        _leaves = _meter.CreateCounter<long>("moe_trainer_leaves", null, "Trainers that left or died.");
        _checkpointDuration = Seconds("moe_checkpoint_duration", "Time to compute and store a round's new parameters (the checkpoint).", CheckpointSeconds);

        _meter.CreateObservableGauge("moe_expert_load", () => _layers.SelectMany(l => l.Value.Loads.Select((load, expert) =>
            new Measurement<long>(load, Job(l.Key.Job), new("layer", l.Key.Layer), new("expert", expert)))),
            null, "Tokens routed to each expert in the layer's last merged step (all trainers).");
        _meter.CreateObservableGauge("moe_expert_price", () => _layers.SelectMany(l => l.Value.Q.Select((q, expert) =>
            new Measurement<double>(q, Job(l.Key.Job), new("layer", l.Key.Layer), new("expert", expert)))),
            null, "The layer balancer's q per expert.");
        _meter.CreateObservableGauge("moe_layer_max_vio", () => _layers.Select(l =>
            new Measurement<double>(l.Value.MaxVio, Job(l.Key.Job), new("layer", l.Key.Layer))),
            null, "MaxVio of the layer's last merged step: (max load - mean load) / mean load.");
        _meter.CreateObservableGauge("moe_balancer_edge_share", () => _layers.Select(l =>
            new Measurement<double>(l.Value.EdgeShare, Job(l.Key.Job), new("layer", l.Key.Layer))),
            null, "Share of the layer's experts whose quantile fell into an edge cell of its read-out window at the last merged step (their windows widen).");
        _meter.CreateObservableGauge("moe_cluster_members", () => _members.Select(p =>
            new Measurement<int>(p.Value, new KeyValuePair<string, object?>("role", p.Key))),
            null, "Cluster members that are up, by role.");
        _meter.CreateObservableGauge("moe_training_loss", () => _jobs.Select(j => new Measurement<double>(j.Value.Loss, Job(j.Key))),
            null, "Mean training loss of the last committed round.");
        _meter.CreateObservableGauge("moe_committed_rounds", () => _jobs.Select(j => new Measurement<long>(j.Value.Rounds, Job(j.Key))),
            null, "Rounds the job has committed.");
        _meter.CreateObservableGauge("moe_checkpoint_size", () => _jobs.Select(j => new Measurement<long>(j.Value.CheckpointBytes, Job(j.Key))),
            "By", "Size of the last checkpoint's parameters.");
    }

    /// <summary>The meter behind every instrument of this node; its scope is this instance.</summary>
    public Meter Meter => _meter;

    public void Step(string job, string trainer, double seconds, long tokens)
    {
        var labels = new TagList { Job(job), { "trainer", trainer } };
        _stepDuration.Record(seconds, labels);
        _tokens.Add(tokens, labels);
    }

    public void SkippedStep(string job, string trainer) => _skippedSteps.Add(1, Job(job), new("trainer", trainer));

    public void WaitedForParameters(string job, string trainer, double seconds) =>
        _parametersWait.Record(seconds, Job(job), new("trainer", trainer));

    public void Summary(string job, int layer, string outcome) =>
        _summaries.Add(1, Job(job), new("layer", layer), new("outcome", outcome));

    public void LayerCommitted(string job, int layer, long[] loads, float[] q, double maxVio, double edgeShare) =>
        _layers[(job, layer)] = (loads, q, maxVio, edgeShare);

    /// <summary>The layer's balancer stopped or moved to another node: its gauges go with it.</summary>
    public void LayerStopped(string job, int layer) => _layers.TryRemove((job, layer), out _);

    /// <param name="checkpointBytes">The new parameters' bytes; null: not known (the gauge keeps the last size).</param>
    public void RoundCommitted(string job, double seconds, double loss, long rounds, double checkpointSeconds, long? checkpointBytes)
    {
        _roundDuration.Record(seconds, Job(job));
        _checkpointDuration.Record(checkpointSeconds, Job(job));
        _jobs[job] = (loss, rounds, checkpointBytes ?? (_jobs.TryGetValue(job, out var last) ? last.CheckpointBytes : 0));
    }

    /// <summary>The job's coordinator stopped or moved to another node: its gauges go with it.</summary>
    public void CoordinatorStopped(string job) => _jobs.TryRemove(job, out _);

    public void TrainerJoined(string job) => _joins.Add(1, Job(job));

    public void TrainerLeft(string job) => _leaves.Add(1, Job(job));

    public void ClusterMembers(IReadOnlyDictionary<string, int> upByRole)
    {
        foreach (var role in _members.Keys.Except(upByRole.Keys))
            _members[role] = 0;
        foreach (var (role, count) in upByRole)
            _members[role] = count;
    }

    public void Dispose() => _meter.Dispose();

    private Histogram<double> Seconds(string name, string description, double[] buckets) =>
        _meter.CreateHistogram(name, "s", description, tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = buckets });

    private static KeyValuePair<string, object?> Job(string job) => new("job", job);
}
