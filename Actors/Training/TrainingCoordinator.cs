using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Moe.Actors.Balancing;
using Moe.Actors.Blobs;
using Moe.Model.Training;
using Moe.Observability;

namespace Moe.Actors.Training;

/// <summary>
/// The job's coordinator, a persistent cluster singleton. It runs DiLoCo rounds (DESIGN.md section 4): every
/// registered trainer gets the global parameters and a data shard, takes H inner steps and returns its delta;
/// the coordinator averages the deltas of the trainers that finished, applies the outer Nesterov step, stores
/// the new parameters and persists the round. Trainers join at the next round; a trainer that dies or fails is
/// dropped from its round, which commits when a quorum finished (else it runs again). With
/// <see cref="JobSpec.OverlapSteps"/> the next round starts as soon as a round's results are in, while its outer
/// step and journal write run, and its parameters follow when they are committed. Heavy work runs off the actor's
/// thread, so the mailbox stays responsive.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "An actor's life ends in PostStop, which releases it.")]
public sealed class TrainingCoordinator : ReceivePersistentActor, IWithTimers
{
    private readonly IBlobStore _blobs;
    private readonly IActorRef _balancers;
    private readonly OuterStepWork _work;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, IActorRef> _members = [];

    private CoordinatorState _state = CoordinatorState.Empty;
    private RoundInProgress? _round; // the round trainers are working on
    private RoundInProgress? _committing; // the round whose outer step and journal write are under way
    private bool _balancersReady;
    private bool _starting;

    // Start requests that arrived while a job was being created: answered once it exists (or failed).
    private readonly List<(StartJob Command, IActorRef ReplyTo)> _startsWaiting = [];

    public TrainingCoordinator(IBlobStore blobs, TensorHandoff? handoff, IActorRef balancers)
    {
        _blobs = blobs;
        _balancers = balancers;
        _work = new OuterStepWork(blobs, handoff);

        Recover<JobStartedEvent>(e => _state = _state.Apply(e));
        Recover<RoundCommittedEvent>(e => _state = _state.Apply(e));

        Command<StartJob>(OnStartJob);
        Command<JobCreated>(OnJobCreated);
        Command<GetJobStatus>(_ => Sender.Tell(CurrentStatus()));
        Command<RegisterTrainer>(OnRegister);
        Command<Terminated>(t => OnTerminated(t.ActorRef));
        Command<RoundResult>(OnResult);
        Command<RoundFailed>(f => Drop(f.TrainerId, f.Round, f.Attempt, f.Reason));
        Command<RoundTimedOut>(t => OnTimeout(t.Attempt));
        Command<RoundComputed>(OnComputed);
        Command<JobCreationFailed>(OnJobCreationFailed);
        Command<OuterStepFailed>(OnOuterStepFailed);
        Command<Status.Failure>(f => _log.Info("Layer balancers not ready yet ({0}); retrying", f.Cause.GetBaseException().Message));
        Command<BalancersConfigured>(_ => { _balancersReady = true; TryStartRound(); });
        Command<Tick>(_ => OnTick());
    }

    /// <summary>The journal of the cluster's job: its start and every committed round.</summary>
    public const string JournalId = "training-coordinator";

    public override string PersistenceId => JournalId;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="handoff">
    /// Where trainers on this node leave their deltas and find the new parameters; null: all through the store, which
    /// the node's trainers then use too (both follow Blobs:LocalHandoff).
    /// </param>
    public static Props Props(IBlobStore blobs, TensorHandoff? handoff, IActorRef balancers) =>
        Akka.Actor.Props.Create(() => new TrainingCoordinator(blobs, handoff, balancers));

    protected override void PostStop()
    {
        _work.Dispose();
        base.PostStop();
    }

    protected override void OnReplaySuccess()
    {
        Timers.StartPeriodicTimer("tick", Tick.Instance, TimeSpan.FromSeconds(1));
        if (_state.Spec is not null)
            _log.Info("Coordinator recovered job {0} at round {1} of {2}", _state.Spec.JobId, _state.CommittedRounds, _state.Spec.Rounds);
    }

    private void OnStartJob(StartJob command) => Start(command, Sender);

    private void Start(StartJob command, IActorRef replyTo)
    {
        try
        {
            command.Spec.Validate();
        }
        catch (ArgumentException e)
        {
            replyTo.Tell(new JobRejected(command.Spec.JobId, e.Message));
            return;
        }
        if (_state.Spec is { } running)
        {
            if (running == command.Spec)
                replyTo.Tell(CurrentStatus()); // resume: the job goes on from its last committed round
            else if (running.JobId == command.Spec.JobId)
                replyTo.Tell(new JobRejected(command.Spec.JobId, $"job \"{running.JobId}\" exists with other settings ({running}); resume it with the same settings or start a new job id"));
            else
                replyTo.Tell(new JobRejected(command.Spec.JobId, $"job \"{running.JobId}\" is running on this cluster; one job per cluster"));
            return;
        }
        if (_starting)
        {
            _startsWaiting.Add((command, replyTo)); // two coordinator nodes may ask at once
            return;
        }
        _starting = true;
        var spec = command.Spec;
        _work.InitialParameters(spec, CancellationToken.None).PipeTo(Self,
            success: blob => new JobCreated(spec, blob, replyTo),
            failure: e => new JobCreationFailed(spec.JobId, e, replyTo));
    }

    private void AnswerWaitingStarts()
    {
        var waiting = _startsWaiting.ToList();
        _startsWaiting.Clear();
        foreach (var (command, replyTo) in waiting)
            Start(command, replyTo);
    }

    private void OnJobCreated(JobCreated created)
    {
        Persist(new JobStartedEvent(created.Spec, created.Parameters), e =>
        {
            _starting = false;
            _state = _state.Apply(e);
            _log.Info("Job {0} started: {1} rounds of {2} inner steps, preset {3}", e.Spec.JobId, e.Spec.Rounds, e.Spec.InnerSteps, e.Spec.Preset);
            created.ReplyTo.Tell(CurrentStatus());
            AnswerWaitingStarts();
            ConfigureBalancers();
        });
    }

    private void OnRegister(RegisterTrainer register)
    {
        if (_members.TryGetValue(register.TrainerId, out var known) && known.Equals(Sender))
            return;
        if (known is not null)
            Context.Unwatch(known);
        _members[register.TrainerId] = Sender;
        Context.Watch(Sender);
        MoeMetrics.TrainerJoined();
        _log.Info("Trainer {0} joined ({1} members); it takes part from the next round", register.TrainerId, _members.Count);
        TryStartRound();
    }

    private void OnTerminated(IActorRef trainer)
    {
        foreach (var (id, member) in _members.Where(m => m.Value.Equals(trainer)).ToList())
        {
            _members.Remove(id);
            MoeMetrics.TrainerLeft();
            Drop(id, _round?.Round ?? -1, _round?.Attempt ?? "", "the trainer stopped or its node left the cluster");
        }
    }

    private void OnTick()
    {
        MoeMetrics.ClusterMembers(Akka.Cluster.Cluster.Get(Context.System).State.Members
            .Where(m => m.Status == Akka.Cluster.MemberStatus.Up)
            .SelectMany(m => m.Roles)
            .GroupBy(r => r)
            .ToDictionary(g => g.Key, g => g.Count()));
        if (_state.Spec is not null && !_balancersReady)
            ConfigureBalancers();
        TryStartRound();
    }

    private void ConfigureBalancers()
    {
        if (_state.Spec is not { } spec)
            return;
        var asks = Enumerable.Range(0, spec.MoeLayers).Select(layer =>
            _balancers.Ask<CurrentQ>(new ConfigureLayer(spec.JobId, layer, spec.LayerSpec), TimeSpan.FromSeconds(5)));
        Task.WhenAll(asks).PipeTo(Self, success: _ => BalancersConfigured.Instance); // a failure is retried at the next tick
    }

    private void TryStartRound()
    {
        if (_state.Spec is not { } spec || _round is not null || !_balancersReady || _state.Finished || _members.Count < spec.Quorum)
            return;
        int number;
        ShardPlan planBefore;
        BlobRef? parameters;
        if (_committing is null)
            (number, planBefore, parameters) = (_state.CommittedRounds, _state.Plan, _state.Parameters);
        else if (spec.Overlaps && _committing.Round + 1 < spec.Rounds)
            (number, planBefore, parameters) = (_committing.Round + 1, _committing.PlanAfterRound, null); // parameters follow the commit
        else
            return;
        var members = _members.OrderBy(m => m.Key, StringComparer.Ordinal).ToList();
        var (plan, shards) = planBefore.Assign(members.Count);
        var attempt = Guid.NewGuid().ToString("N")[..12];
        _round = new RoundInProgress(number, attempt,
            members.Select((m, k) => (m.Key, shards[k])).ToDictionary(p => p.Key, p => p.Item2), plan, DateTime.UtcNow)
        { Parameters = parameters };
        for (var k = 0; k < members.Count; k++)
            members[k].Value.Tell(new RoundStart(spec, number, attempt, parameters, shards[k], members.Count));
        Timers.StartSingleTimer("round-timeout", new RoundTimedOut(attempt), spec.RoundTimeout);
        _log.Info("Round {0} started with {1} trainers (attempt {2}{3})", number, members.Count, attempt,
            parameters is null ? ", overlapping the commit of the round before" : "");
    }

    private void OnResult(RoundResult result)
    {
        if (_round is not { } round || result.Attempt != round.Attempt || !round.Expected.Remove(result.TrainerId))
        {
            _log.Info("Ignoring a result of trainer {0} for round {1} (attempt {2}): not expected now", result.TrainerId, result.Round, result.Attempt);
            return;
        }
        round.Results[result.TrainerId] = result;
        if (round.AllReported)
            CommitOrRetry(round);
    }

    private void Drop(string trainerId, int roundNumber, string attempt, string reason)
    {
        if (_round is not { } round || round.Attempt != attempt || !round.Expected.Remove(trainerId))
            return;
        _log.Warning("Trainer {0} dropped from round {1}: {2}", trainerId, roundNumber, reason);
        if (round.AllReported)
            CommitOrRetry(round);
    }

    private void OnTimeout(string attempt)
    {
        if (_round is not { ReadyToCommit: false } round || round.Attempt != attempt)
            return;
        _log.Warning("Round {0} timed out waiting for {1}", round.Round, string.Join(", ", round.Expected.Keys));
        round.Expected.Clear();
        CommitOrRetry(round);
    }

    private void CommitOrRetry(RoundInProgress round)
    {
        var spec = _state.Spec!;
        if (round.Results.Count < spec.Quorum)
        {
            _log.Warning("Round {0} has {1} results, quorum is {2}: running it again", round.Round, round.Results.Count, spec.Quorum);
            _round = null;
            DeleteDeltas(round);
            return; // the next tick starts it again with the members present then
        }
        Timers.Cancel("round-timeout");
        if (_committing is not null)
            round.ReadyToCommit = true; // commits right after the round before it
        else
            Commit(round);
    }

    private void Commit(RoundInProgress round)
    {
        _round = null;
        _committing = round;
        round.CommitStarted = DateTime.UtcNow;
        var results = round.Results.Values.OrderBy(r => r.TrainerId, StringComparer.Ordinal).ToList();
        var localTrainers = _members.Values.Count(m => m is IActorRefScope { IsLocal: true });
        _work.Step(_state.Spec!, _state.Parameters!, _state.Momentum, results, localTrainers, CancellationToken.None)
            .PipeTo(Self,
                success: r => new RoundComputed(round.Attempt, r.Parameters, r.Momentum),
                failure: e => new OuterStepFailed(round.Attempt, e));
        TryStartRound(); // an overlapped round starts now
    }

    private void OnComputed(RoundComputed computed)
    {
        if (_committing is not { } round || round.Attempt != computed.Attempt)
            return;
        var results = round.Results.Values.ToList();
        var plan = round.PlanAfterRound;
        var previous = (_state.Parameters, _state.Momentum);
        var now = DateTime.UtcNow;
        // A round that overlapped the commit of the one before counts from that commit: round times add up to
        // the job's time, and tokens over round time stay tokens per second of wall time.
        var since = _state.LastRound is { } last && last.CommittedAt > round.Started ? last.CommittedAt : round.Started;
        var committed = new RoundCommittedEvent(
            round.Round, computed.Parameters, computed.Momentum, plan,
            [.. results.Select(r => r.Stats).OrderBy(p => p.TrainerId, StringComparer.Ordinal)],
            now, (now - since).TotalSeconds);
        Persist(committed, e =>
        {
            _state = _state.Apply(e);
            _committing = null;
            MoeMetrics.RoundCommitted(e.Seconds, e.MeanLoss, _state.CommittedRounds,
                (DateTime.UtcNow - round.CommitStarted).TotalSeconds, e.Parameters.Size);
            _log.Info("Round {0} committed: {1} trainers, loss {2:F4}, {3:F1} s", e.Round, e.Parts.Length, e.MeanLoss, e.Seconds);
            DeleteAfterCommit(round, previous.Parameters, previous.Momentum);
            if (_state.Finished)
            {
                foreach (var member in _members.Values)
                    member.Tell(new JobFinished(_state.Spec!.JobId, _state.CommittedRounds));
            }
            else if (_round is { Parameters: null } overlapped)
            {
                SendParameters(overlapped, e.Parameters);
            }
            else
            {
                TryStartRound();
            }
        });
    }

    // The overlapped round's trainers learn the parameters it started from; if it finished meanwhile, it commits.
    private void SendParameters(RoundInProgress overlapped, BlobRef parameters)
    {
        overlapped.Parameters = parameters;
        foreach (var trainer in overlapped.Assigned.Keys)
        {
            if (_members.TryGetValue(trainer, out var member))
                member.Tell(new RoundParameters(_state.Spec!.JobId, overlapped.Round, overlapped.Attempt, parameters));
        }
        if (overlapped.ReadyToCommit)
            Commit(overlapped);
    }

    private void OnJobCreationFailed(JobCreationFailed failed)
    {
        _starting = false;
        _log.Error(failed.Cause, "Could not create the initial parameters of job {0}", failed.JobId);
        failed.ReplyTo.Tell(new JobRejected(failed.JobId, $"creating the initial parameters failed: {failed.Cause.GetBaseException().Message}"));
        AnswerWaitingStarts(); // the next one tries again
    }

    // The blob store or the outer step failed: nothing was persisted, so the round simply runs again, and an
    // overlapped round after it is abandoned (the parameters it was to start from will not exist).
    private void OnOuterStepFailed(OuterStepFailed failed)
    {
        if (_committing is not { } round || round.Attempt != failed.Attempt)
            return;
        _log.Error(failed.Cause, "The outer step of round {0} failed; running the round again", round.Round);
        _committing = null;
        DeleteDeltas(round);
        if (_round is { } overlapped)
        {
            Timers.Cancel("round-timeout");
            _round = null;
            DeleteDeltas(overlapped);
        }
    }

    private void DeleteAfterCommit(RoundInProgress round, BlobRef? parameters, BlobRef? momentum) =>
        DeleteUnreferenced(round.Results.Values.Select(r => r.Delta).Append(parameters).Append(momentum));

    private void DeleteDeltas(RoundInProgress round) => DeleteUnreferenced(round.Results.Values.Select(r => r.Delta));

    // Content addressing means equal content is one blob: with one trainer, the first momentum equals its delta,
    // and two rounds may deliver equal deltas. Only blobs that neither the committed state nor a round still
    // running or committing points at may go.
    private void DeleteUnreferenced(IEnumerable<BlobRef?> blobs)
    {
        foreach (var blob in blobs.OfType<BlobRef>().Distinct())
        {
            if (blob != _state.Parameters && blob != _state.Momentum && !Delivers(_round, blob) && !Delivers(_committing, blob))
                Forget(blob);
        }
    }

    private static bool Delivers(RoundInProgress? round, BlobRef blob) => round?.Results.Values.Any(r => r.Delta == blob) == true;

    // Best effort: a blob left behind costs disk, never correctness, so no failure of it reaches the actor. Off the
    // actor's thread: deleting a file is synchronous, and two of them held the next round's start for about 11 ms.
    private void Forget(BlobRef blob)
    {
        _ = Task.Run(DeleteQuietly);

        async Task DeleteQuietly()
        {
            try
            {
                await _blobs.DeleteAsync(blob, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                _log.Warning("Could not delete blob {0}: {1}", blob, e.GetBaseException().Message);
            }
        }
    }

    private JobStatus CurrentStatus()
    {
        string[] members = [.. _members.Keys.Order(StringComparer.Ordinal)];
        if (_state.Spec is not { } spec)
            return JobStatus.None with { Members = members };
        var last = _state.LastRound;
        return new JobStatus(spec.JobId, _state.CommittedRounds, spec.Rounds, _state.Finished, _state.Parameters, members,
            last?.Contributors ?? [], last?.MeanLoss ?? double.NaN, last?.Tokens ?? 0, last?.Seconds ?? double.NaN, last?.WorstMaxVio ?? double.NaN);
    }

    private sealed record JobCreated(JobSpec Spec, BlobRef Parameters, IActorRef ReplyTo);

    private sealed record RoundTimedOut(string Attempt);

    private sealed record RoundComputed(string Attempt, BlobRef Parameters, BlobRef? Momentum);

    private sealed record JobCreationFailed(string JobId, Exception Cause, IActorRef ReplyTo);

    private sealed record OuterStepFailed(string Attempt, Exception Cause);

    private sealed class BalancersConfigured
    {
        public static readonly BalancersConfigured Instance = new();
    }

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }
}
