using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Moe.Actors.Balancing;
using Moe.Actors.Blobs;
using Moe.Actors.Faults;
using Moe.Actors.Training.Protocol;
using Moe.Actors.Training.Slices;
using Moe.Observability;

namespace Moe.Actors.Training;

/// <summary>
/// The job's coordinator, a persistent cluster singleton. The round protocol (<see cref="RoundProtocol"/>) decides;
/// this actor admits the job, tracks which actor each trainer is, persists, sends, schedules and runs the outer
/// step off its thread, so the mailbox stays responsive.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "An actor's life ends in PostStop, which releases it.")]
public sealed class TrainingCoordinator : ReceivePersistentActor, IWithTimers
{
    private const string RoundTimer = "round-timeout";
    private const string OuterStep = "training-coordinator/outer-step";
    private const string ReadBack = "training-coordinator/read-back";

    private readonly IBlobStore _blobs;
    private readonly IActorRef _balancers;
    private readonly OuterStepWork _work;
    private readonly NodeMetrics _metrics;
    private readonly NodeFailures _failures;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, IActorRef> _members = [];
    private readonly JobAdmission _admission = new();
    private readonly bool _servesBlobs;
    private RoundProtocolState _state;

    public TrainingCoordinator(IBlobStore blobs, BlobStoreSettings blobSettings, TensorHandoff? handoff, IActorRef balancers, IActorRef sliceOwners,
        NodeMetrics metrics, NodeFailures failures)
    {
        _state = RoundProtocolState.Start(Guid.NewGuid().ToString("N")[..8], blobSettings.KeepRounds);
        _servesBlobs = blobSettings.ServeUrl is not null;
        _blobs = blobs;
        _balancers = balancers;
        _metrics = metrics;
        _failures = failures;
        _work = new OuterStepWork(blobs, handoff, sliceOwners, blobSettings.MinBandwidth);

        Recover<JobStartedEvent>(e => _state = _state with { Journal = _state.Journal.Apply(e) });
        Recover<RoundCommittedEvent>(e => _state = _state with { Journal = _state.Journal.Apply(e) });
        Recover<RoundsRolledBackEvent>(e => _state = _state with { Journal = _state.Journal.Apply(e) });

        Command<StartJob>(start => Admit(start, Sender));
        Command<JobCreated>(OnJobCreated);
        Command<JobCreationFailed>(OnJobCreationFailed);
        Command<GetJobStatus>(_ => Sender.Tell(CurrentStatus()));
        Command<RegisterTrainer>(OnRegister);
        Command<Terminated>(t => OnTerminated(t.ActorRef));
        Command<Akka.Cluster.ClusterEvent.UnreachableMember>(u => OnUnreachable(u.Member.Address));
        Command<RoundResult>(r => Decide(new ResultReceived(r)));
        Command<RoundFailed>(f => Decide(new PartFailed(f.TrainerId, f.Attempt, f.Reason)));
        Command<StepFailed>(f =>
        {
            _log.Error(f.Cause, "The outer step of attempt {0} failed", f.Input.Attempt);
            _failures.Failed(OuterStep, "The outer step", f.Cause);
            Decide(f.Input);
        });
        Command<ICoordinatorInput>(Decide);
        Command<CheckpointMeasured>(RecordCommitted);
        Command<Status.Failure>(f => _log.Info("Layer balancers not ready yet ({0}); retrying", f.Cause.GetBaseException().Message));
    }

    /// <summary>The journal of the cluster's job: its start and every committed round.</summary>
    public const string JournalId = "training-coordinator";

    public override string PersistenceId => JournalId;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="handoff">
    /// Where trainers on this node leave their deltas and find the new parameters; null: all through the store, which
    /// the node's trainers then use too (both follow Blobs:LocalHandoff).
    /// </param>
    /// <param name="blobSettings">
    /// This node's blob settings: the checkpoints kept to go back to when the latest does not read back
    /// (Blobs:KeepRounds), whether it serves the cluster's blobs, and the slowest bandwidth worth waiting for.
    /// </param>
    /// <param name="sliceOwners">The shard region (or proxy) of the slice owners, which step a job whose outer step is sliced.</param>
    public static Props Props(IBlobStore blobs, BlobStoreSettings blobSettings, TensorHandoff? handoff, IActorRef balancers, IActorRef sliceOwners,
        NodeMetrics metrics, NodeFailures failures) =>
        Akka.Actor.Props.Create(() => new TrainingCoordinator(blobs, blobSettings, handoff, balancers, sliceOwners, metrics, failures));

    private string JobLabel => _state.Spec?.JobId ?? "";

    protected override void PreStart()
    {
        base.PreStart();
        // Unreachable comes long before downed (which ends in Terminated): the balancers stop waiting at once.
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, Akka.Cluster.ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(Akka.Cluster.ClusterEvent.UnreachableMember));
    }

    protected override void PostStop()
    {
        Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
        _metrics.CoordinatorStopped(JobLabel);
        _work.Dispose();
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
        Timers.StartPeriodicTimer("tick", Tick.Instance, TimeSpan.FromSeconds(1));
        if (_state.Spec is { } spec)
            _log.Info("Coordinator recovered job {0} at round {1} of {2}", spec.JobId, _state.Journal.CommittedRounds, spec.Rounds);
        Decide(Recovered.Instance);
    }

    private void Decide(ICoordinatorInput input)
    {
        if (input is Tick)
            _metrics.ClusterMembers(UpMembersByRole(Context.System));
        var decision = RoundProtocol.Decide(_state, input, DateTime.UtcNow);
        _state = decision.State;
        foreach (var effect in decision.Effects)
            Carry(effect);
    }

    private void Carry(ICoordinatorEffect effect)
    {
        switch (effect)
        {
            case SendRoundStart s when _members.TryGetValue(s.TrainerId, out var trainer):
                trainer.Tell(s.Start);
                break;
            case SendRoundParameters p when _members.TryGetValue(p.TrainerId, out var trainer):
                trainer.Tell(p.Parameters);
                break;
            case AnnounceFinished f:
                foreach (var member in _members.Values)
                    member.Tell(f.Finished);
                break;
            case ConfigureBalancers c:
                var asks = Enumerable.Range(0, c.Spec.MoeLayers).Select(layer =>
                    _balancers.Ask<CurrentQ>(new ConfigureLayer(c.Spec.JobId, layer, c.Spec.LayerSpec), TimeSpan.FromSeconds(5)));
                Task.WhenAll(asks).PipeTo(Self, success: _ => BalancersReady.Instance); // a failure is retried at the next tick
                break;
            case ReleaseSteps r when _state.Spec is { } spec:
                for (var layer = 0; layer < spec.MoeLayers; layer++)
                    _balancers.Tell(new StepsReleased(spec.JobId, layer, r.TrainerId, r.FromStep, r.ToStep));
                break;
            case StartRoundTimer t:
                Timers.StartSingleTimer(RoundTimer, new RoundTimedOut(t.Attempt), t.After);
                break;
            case CancelRoundTimer:
                Timers.Cancel(RoundTimer);
                break;
            case RunOuterStep step:
                var localTrainers = _members.Values.Count(m => m is IActorRefScope { IsLocal: true });
                _work.Step(step.Spec, step.Attempt, step.Parameters, step.Momentum, step.Results, localTrainers, CancellationToken.None).PipeTo(Self,
                    success: r => new OuterStepDone(step.Attempt, r.Parameters, r.Momentum),
                    failure: e => new StepFailed(new OuterStepFailed(step.Attempt), e));
                break;
            case PersistRound p:
                Persist(p.Event, e =>
                {
                    _failures.Succeeded(PersistenceId);
                    _failures.Succeeded(OuterStep);
                    Decide(new RoundPersisted(e));
                });
                break;
            case VerifyCheckpoints v:
                _work.Verify(_state.Spec!, v.NewestFirst, CancellationToken.None).PipeTo(Self,
                    success: r =>
                    {
                        _failures.Succeeded(ReadBack);
                        return new CheckpointsVerified(r.Round, r.Problem);
                    },
                    failure: e =>
                    {
                        _log.Warning("Could not read back the checkpoints: {0}; trying again", e.GetBaseException().Message);
                        _failures.Failed(ReadBack, "Reading back the kept checkpoints", e);
                        return VerificationFailed.Instance;
                    });
                break;
            case PersistRollback r:
                Persist(r.Event, e => Decide(new RollbackPersisted(e)));
                break;
            case FailJob:
                break; // the status carries the problem to whoever follows the job
            case RoundCommitted c when _state.Spec?.Sliced == true:
                // The checkpoint's blob is an index: its size is what the slices it lists add up to.
                SlicedBlobs.ReadIndexAsync(_blobs, c.Event.Parameters, CancellationToken.None).PipeTo(Self,
                    success: slices => new CheckpointMeasured(c, slices.Sum(s => s.Size)), failure: _ => new CheckpointMeasured(c, null));
                _log.Info("Round {0} committed: {1} trainers, loss {2:F4}, {3:F1} s", c.Event.Round, c.Event.Parts.Length, c.Event.MeanLoss, c.Event.Seconds);
                break;
            case RoundCommitted c:
                RecordCommitted(new CheckpointMeasured(c, c.Event.Parameters.Size));
                _log.Info("Round {0} committed: {1} trainers, loss {2:F4}, {3:F1} s", c.Event.Round, c.Event.Parts.Length, c.Event.MeanLoss, c.Event.Seconds);
                break;
            case DeleteBlobs d:
                foreach (var blob in d.Blobs)
                    Forget(blob);
                break;
            case Log { Level: Protocol.LogLevel.Error } l:
                _log.Error(l.Message);
                break;
            case Log { Level: Protocol.LogLevel.Warning } l:
                _log.Warning(l.Message);
                break;
            case Log l:
                _log.Info(l.Message);
                break;
        }
    }

    private void Admit(StartJob command, IActorRef replyTo)
    {
        switch (_admission.Admit(_state.Spec, command, replyTo))
        {
            case JobAdmission.Verdict.Rejected r:
                replyTo.Tell(new JobRejected(command.Spec.JobId, r.Reason));
                break;
            case JobAdmission.Verdict.Running:
                replyTo.Tell(CurrentStatus()); // resume: the job goes on from its last committed round
                break;
            case JobAdmission.Verdict.Create:
                var trainerNodes = UpMembersByRole(Context.System).GetValueOrDefault(Hosting.NodeRoles.Trainer);
                var spec = command.Spec.Resolve() with { Slices = command.Spec.Slices ?? JobSpec.DefaultSlices(trainerNodes, _servesBlobs) };
                _work.InitialParameters(spec, CancellationToken.None).PipeTo(Self,
                    success: created => new JobCreated(created.Spec, created.Parameters, replyTo),
                    failure: e => new JobCreationFailed(spec.JobId, e, replyTo));
                break;
        }
    }

    private void OnJobCreated(JobCreated created)
    {
        Persist(new JobStartedEvent(created.Spec, created.Parameters), e =>
        {
            Decide(new JobPersisted(e));
            created.ReplyTo.Tell(CurrentStatus());
            AdmitWaiting();
        });
    }

    private void OnJobCreationFailed(JobCreationFailed failed)
    {
        _log.Error(failed.Cause, "Could not create the initial parameters of job {0}", failed.JobId);
        failed.ReplyTo.Tell(new JobRejected(failed.JobId, $"creating the initial parameters failed: {failed.Cause.GetBaseException().Message}"));
        AdmitWaiting(); // the next one tries again
    }

    private void AdmitWaiting()
    {
        foreach (var (command, replyTo) in _admission.Settled())
            Admit(command, replyTo);
    }

    private void OnRegister(RegisterTrainer register)
    {
        if (_members.TryGetValue(register.TrainerId, out var known) && known.Equals(Sender))
            return;
        if (known is not null)
            Context.Unwatch(known);
        _members[register.TrainerId] = Sender;
        Context.Watch(Sender);
        _metrics.TrainerJoined(JobLabel);
        Decide(new TrainerJoined(register.TrainerId));
    }

    private void OnTerminated(IActorRef trainer)
    {
        foreach (var id in _members.Where(m => m.Value.Equals(trainer)).Select(m => m.Key).ToList())
        {
            _members.Remove(id);
            _metrics.TrainerLeft(JobLabel);
            Decide(new TrainerLeft(id));
        }
    }

    // Its trainers leave now; one that comes back registers again (RegisterTrainer repeats) and rejoins.
    private void OnUnreachable(Address node)
    {
        foreach (var (id, trainer) in _members.Where(m => m.Value.Path.Address == node).ToList())
        {
            Context.Unwatch(trainer);
            _members.Remove(id);
            _metrics.TrainerLeft(JobLabel);
            Decide(new TrainerUnreachable(id));
        }
    }

    private static Dictionary<string, int> UpMembersByRole(ActorSystem system) => Akka.Cluster.Cluster.Get(system).State.Members
        .Where(m => m.Status == Akka.Cluster.MemberStatus.Up)
        .SelectMany(m => m.Roles)
        .GroupBy(r => r)
        .ToDictionary(g => g.Key, g => g.Count());

    // Off the actor's thread: deleting a file is synchronous. No failure of it reaches the actor.
    private void Forget(BlobRef blob)
    {
        var spec = _state.Spec!;
        _ = Task.Run(DeleteQuietly);

        async Task DeleteQuietly()
        {
            try
            {
                await ParameterBlobs.DeleteAsync(_blobs, spec, blob, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                _log.Warning("Could not delete blob {0}: {1}", blob, e.GetBaseException().Message);
            }
        }
    }

    // A checkpoint whose size could not be read keeps the last size on its gauge.
    private void RecordCommitted(CheckpointMeasured m) => _metrics.RoundCommitted(JobLabel, m.Round.Event.Seconds, m.Round.Event.MeanLoss,
        m.Round.CommittedRounds, m.Round.CheckpointSeconds, m.Bytes);

    private JobStatus CurrentStatus() => _state.Journal.Status([.. _members.Keys.Order(StringComparer.Ordinal)], _state.Problem);

    private sealed record JobCreated(JobSpec Spec, BlobRef Parameters, IActorRef ReplyTo);

    private sealed record JobCreationFailed(string JobId, Exception Cause, IActorRef ReplyTo);

    private sealed record StepFailed(OuterStepFailed Input, Exception Cause);

    private sealed record CheckpointMeasured(RoundCommitted Round, long? Bytes);
}
