using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Moe.Observability;

/// <summary>
/// Every metric the cluster exports (DESIGN.md section 6). Names are Prometheus-style with the moe_ prefix; the
/// exporter adds the unit suffix (_seconds, _bytes) and _total on counters. Labels are bounded: per-expert series
/// are layers x experts of the running job (e.g. 4 x 64 = 256), per-trainer series one per trainer actor.
/// </summary>
public static class MoeMetrics
{
    public const string MeterName = "Moe.Cluster";

    private static readonly Meter Meter = new(MeterName);

    // Latest values behind the observable gauges, keyed by their labels.
    private static readonly ConcurrentDictionary<(int Layer, int Expert), long> Loads = new();
    private static readonly ConcurrentDictionary<(int Layer, int Expert), float> Prices = new();
    private static readonly ConcurrentDictionary<int, double> MaxVio = new();
    private static readonly ConcurrentDictionary<string, int> Members = new();
    private static double _loss = double.NaN;
    private static long _committedRounds;
    private static long _checkpointBytes;

    private static readonly Histogram<double> StepDuration = Meter.CreateHistogram<double>(
        "moe_step_duration", "s", "Duration of one training step, per trainer (stragglers stand out).");

    private static readonly Counter<long> Tokens = Meter.CreateCounter<long>(
        "moe_tokens", null, "Tokens trained, per trainer.");

    private static readonly Counter<long> Summaries = Meter.CreateCounter<long>(
        "moe_balancer_summaries", null, "Summaries received by layer balancers, by outcome: accepted, ignored (duplicate or stale) or rejected (malformed).");

    private static readonly Histogram<double> RoundDuration = Meter.CreateHistogram<double>(
        "moe_round_duration", "s", "Duration of a training round, from its start (or the previous round's commit, when it overlapped it) to its commit.");

    private static readonly Histogram<double> ParametersWait = Meter.CreateHistogram<double>(
        "moe_round_parameters_wait", "s", "Time a trainer of an overlapped round waited for the previous round's commit before its step OverlapSteps (0: the overlap hid the commit).");

    private static readonly Counter<long> Joins = Meter.CreateCounter<long>("moe_trainer_joins", null, "Trainers that joined the job.");

    private static readonly Counter<long> Leaves = Meter.CreateCounter<long>("moe_trainer_leaves", null, "Trainers that left or died.");

    private static readonly Histogram<double> CheckpointDuration = Meter.CreateHistogram<double>(
        "moe_checkpoint_duration", "s", "Time to compute and store a round's new parameters (the checkpoint).");

    static MoeMetrics()
    {
        Meter.CreateObservableGauge("moe_expert_load", () => Loads.Select(p =>
            new Measurement<long>(p.Value, new("layer", p.Key.Layer), new("expert", p.Key.Expert))),
            null, "Tokens routed to each expert in the layer's last merged step (all trainers).");
        Meter.CreateObservableGauge("moe_expert_price", () => Prices.Select(p =>
            new Measurement<double>(p.Value, new("layer", p.Key.Layer), new("expert", p.Key.Expert))),
            null, "The layer balancer's q per expert.");
        Meter.CreateObservableGauge("moe_layer_max_vio", () => MaxVio.Select(p =>
            new Measurement<double>(p.Value, new KeyValuePair<string, object?>("layer", p.Key))),
            null, "MaxVio of the layer's last merged step: (max load - mean load) / mean load.");
        Meter.CreateObservableGauge("moe_cluster_members", () => Members.Select(p =>
            new Measurement<int>(p.Value, new KeyValuePair<string, object?>("role", p.Key))),
            null, "Cluster members that are up, by role.");
        Meter.CreateObservableGauge("moe_training_loss", () => double.IsNaN(_loss) ? [] : new[] { new Measurement<double>(_loss) },
            null, "Mean training loss of the last committed round.");
        Meter.CreateObservableGauge("moe_committed_rounds", () => Interlocked.Read(ref _committedRounds),
            null, "Rounds the job has committed.");
        Meter.CreateObservableGauge("moe_checkpoint_size", () => Interlocked.Read(ref _checkpointBytes),
            "By", "Size of the last checkpoint's parameters.");
    }

    public static void Step(string trainer, double seconds, long tokens)
    {
        var label = new KeyValuePair<string, object?>("trainer", trainer);
        StepDuration.Record(seconds, label);
        Tokens.Add(tokens, label);
    }

    public static void WaitedForParameters(string trainer, double seconds) =>
        ParametersWait.Record(seconds, new KeyValuePair<string, object?>("trainer", trainer));

    public static void Summary(int layer, string outcome) =>
        Summaries.Add(1, new("layer", layer), new("outcome", outcome));

    public static void LayerCommitted(int layer, ReadOnlySpan<long> loads, ReadOnlySpan<float> q, double maxVio)
    {
        for (var j = 0; j < loads.Length; j++)
            Loads[(layer, j)] = loads[j];
        for (var j = 0; j < q.Length; j++)
            Prices[(layer, j)] = q[j];
        MaxVio[layer] = maxVio;
    }

    public static void RoundCommitted(double seconds, double loss, long rounds, double checkpointSeconds, long checkpointBytes)
    {
        RoundDuration.Record(seconds);
        CheckpointDuration.Record(checkpointSeconds);
        _loss = loss;
        Interlocked.Exchange(ref _committedRounds, rounds);
        Interlocked.Exchange(ref _checkpointBytes, checkpointBytes);
    }

    public static void TrainerJoined() => Joins.Add(1);

    public static void TrainerLeft() => Leaves.Add(1);

    public static void ClusterMembers(IReadOnlyDictionary<string, int> upByRole)
    {
        foreach (var role in Members.Keys.Except(upByRole.Keys))
            Members[role] = 0;
        foreach (var (role, count) in upByRole)
            Members[role] = count;
    }
}
