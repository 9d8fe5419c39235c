using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Akka.Persistence;
using Moe.Actors.Faults;
using Moe.Model.Balancing;
using Moe.Observability;

namespace Moe.Actors.Balancing;

/// <summary>
/// The balancer of one MoE layer of one job (a sharded persistent entity). It owns q: it merges the trainers'
/// per-step summaries, reads q at the global capacity from the summed histograms, persists it and only then
/// publishes it. Bad summaries are answered with a reason and never touch state; duplicates and stale steps are
/// ignored. Events are written with PersistAsync so that merging never waits on the journal: the journal batches
/// the writes, and a q counts as acknowledged only once its write succeeded.
/// </summary>
public sealed class LayerBalancer : ReceivePersistentActor, IWithTimers
{
    private readonly LayerKey _key;
    private readonly BalancerSettings _settings;
    private readonly NodeMetrics _metrics;
    private readonly NodeFailures _failures;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _mediator;

    private LayerSpec? _spec;
    private PendingSteps? _pending;
    private long _step = -1; // last acknowledged (persisted) step
    private float[] _q = [];
    private long _closedStep = -1; // last step handed to the journal: later summaries of it are stale
    private long _accepted, _ignored, _rejected;
    private long _commitsSinceSnapshot;

    public LayerBalancer(LayerKey key, BalancerSettings settings, NodeMetrics metrics, NodeFailures failures)
    {
        _key = key;
        _settings = settings;
        _metrics = metrics;
        _failures = failures;
        _mediator = DistributedPubSub.Get(Context.System).Mediator;
        PersistenceId = key.PersistenceId;

        Recover<LayerConfiguredEvent>(e => Configure(e.Spec));
        Recover<QCommitted>(e =>
        {
            Acknowledge(e.Step, e.Q);
            _commitsSinceSnapshot++; // so that a balancer that moves nodes still snapshots every N steps
        });
        Recover<SnapshotOffer>(offer =>
        {
            var snapshot = (BalancerSnapshot)offer.Snapshot;
            Configure(snapshot.Spec);
            Acknowledge(snapshot.Step, snapshot.Q);
        });

        Command<StepSummary>(OnSummary);
        Command<StepsReleased>(OnReleased);
        Command<ConfigureLayer>(OnConfigure);
        Command<GetQ>(_ => Sender.Tell(new CurrentQ(_key.JobId, _key.Layer, _step, _q)));
        Command<GetBalancerStatus>(_ => Sender.Tell(Status()));
        Command<FlushTick>(_ => CommitReady());
        Command<SaveSnapshotSuccess>(s =>
        {
            DeleteMessages(s.Metadata.SequenceNr);
            DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1));
        });
        Command<SaveSnapshotFailure>(f => _log.Warning(f.Cause, "Snapshot of {0} failed; events are kept", _key));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(f => _log.Warning(f.Cause, "Deleting old events of {0} failed", _key));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Warning(f.Cause, "Deleting old snapshots of {0} failed", _key));
    }

    public override string PersistenceId { get; }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(LayerKey key, BalancerSettings settings, NodeMetrics metrics, NodeFailures failures) =>
        Akka.Actor.Props.Create(() => new LayerBalancer(key, settings, metrics, failures));

    // Its gauges go with it: a balancer that moved to another node is exported there.
    protected override void PostStop()
    {
        _metrics.LayerStopped(_key.JobId, _key.Layer);
        base.PostStop();
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _failures.RecoveryFailed(Context.System, PersistenceId, reason);
        base.OnRecoveryFailure(reason, message);
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _failures.WriteFailed(PersistenceId, sequenceNr, cause);
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnReplaySuccess()
    {
        _closedStep = _step;
        if (_spec is not null)
        {
            StartFlushTimer();
            Snapshot();
        }
    }

    private void OnConfigure(ConfigureLayer command)
    {
        if (_spec is not null)
        {
            if (_spec == command.Spec)
                Sender.Tell(new CurrentQ(_key.JobId, _key.Layer, _step, _q));
            else
                Reject("", -1, $"layer is already configured as {_spec}; a job's layers cannot change shape");
            return;
        }
        var sender = Sender;
        Persist(new LayerConfiguredEvent(command.Spec), e =>
        {
            Configure(e.Spec);
            StartFlushTimer();
            Snapshot();
            sender.Tell(new CurrentQ(_key.JobId, _key.Layer, _step, _q));
        });
    }

    private void OnSummary(StepSummary summary)
    {
        if (SummaryValidation.Problem(_spec, _step, _settings.MaxStepsAhead, summary) is { } problem)
        {
            Reject(summary.TrainerId, summary.Step, problem);
            return;
        }
        if (summary.Step <= _closedStep)
        {
            Ignore();
            return;
        }
        switch (_pending!.Add(summary, DateTime.UtcNow))
        {
            case PendingSteps.AddResult.Duplicate:
                Ignore();
                return;
            case PendingSteps.AddResult.ContributorMismatch:
                Reject(summary.TrainerId, summary.Step, $"contributors {summary.Contributors} differs from what other trainers sent for this step");
                return;
            default:
                _accepted++;
                _metrics.Summary(_key.JobId, _key.Layer, "accepted");
                CommitReady();
                return;
        }
    }

    private void OnReleased(StepsReleased released)
    {
        if (_pending is null || released.ToStep <= _closedStep)
            return;
        _pending.Release(released.TrainerId, released.FromStep, released.ToStep);
        CommitReady();
    }

    private void CommitReady()
    {
        if (_spec is null || _pending is null)
            return;
        var ready = _pending.TakeReady(_settings.PendingWindow, _settings.FlushAfter, DateTime.UtcNow);
        if (ready.Count == 0)
            return;
        var spec = _spec;
        var published = new Dictionary<long, (long[] Loads, int Contributors, double EdgeShare, ReadoutWindow Window)>();
        var events = new List<QCommitted>();
        foreach (var merge in ready)
        {
            var (merged, rebinned) = _pending.Merged(merge);
            var readout = merged.ReadOut(spec.TopK);
            var capacity = DualBalancing.Capacity(merged.Tokens, spec.Experts, spec.TopK);
            events.Add(new QCommitted(merge.Step, readout.Prices(spec.Clip)));
            published[merge.Step] = (merge.Loads, merge.Trainers.Count, readout.EdgeShare, merged.Window.Next(merge.Step, merged, readout, capacity));
            for (var k = 0; k < rebinned; k++)
                _metrics.Summary(_key.JobId, _key.Layer, "rebinned");
            _closedStep = merge.Step;
            _pending.Recycle(merge);
        }
        PersistAllAsync(events, e =>
        {
            _failures.Succeeded(PersistenceId);
            Acknowledge(e.Step, e.Q);
            var (loads, contributors, edgeShare, window) = published[e.Step];
            _metrics.LayerCommitted(_key.JobId, _key.Layer, loads, e.Q, BalanceMeasures.FromLoads(loads).MaxVio, edgeShare);
            _mediator.Tell(new Publish(BalancerTopics.For(_key.JobId), new QPublished(_key.JobId, _key.Layer, e.Step, e.Q, loads, contributors) { Window = window }));
            if (++_commitsSinceSnapshot >= _settings.SnapshotEvery)
                Snapshot();
        });
    }

    // Also taken when the balancer is configured and after every recovery, before any step waits on it: a
    // process's first snapshot write is many times slower than its later ones (docs/benchmarks.md).
    private void Snapshot()
    {
        _commitsSinceSnapshot = 0;
        SaveSnapshot(new BalancerSnapshot(_spec!, _step, _q));
    }

    private void Configure(LayerSpec spec)
    {
        _spec = spec;
        _pending = new PendingSteps(spec);
        if (_q.Length == 0)
            _q = new float[spec.Experts];
    }

    private void Acknowledge(long step, float[] q)
    {
        _step = step;
        _q = q;
    }

    private void StartFlushTimer() =>
        Timers.StartPeriodicTimer("flush", FlushTick.Instance, _settings.FlushAfter / 2);

    private void Ignore()
    {
        _ignored++;
        _metrics.Summary(_key.JobId, _key.Layer, "ignored");
    }

    private void Reject(string trainerId, long step, string reason)
    {
        _rejected++;
        _metrics.Summary(_key.JobId, _key.Layer, "rejected");
        _log.Warning("Rejected a command for {0} from trainer \"{1}\" at step {2}: {3}", _key, trainerId, step, reason);
        Sender.Tell(new CommandRejected(_key.JobId, _key.Layer, trainerId, step, reason));
    }

    private BalancerStatus Status() => new(
        _key.JobId, _key.Layer, _spec is not null, _step, LastSequenceNr, _accepted, _ignored, _rejected, _pending?.Count ?? 0);

    private sealed class FlushTick
    {
        public static readonly FlushTick Instance = new();
    }
}
