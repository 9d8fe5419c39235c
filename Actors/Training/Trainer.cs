using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Moe.Actors.Balancing;
using Moe.Actors.Blobs;
using Moe.Actors.Faults;

namespace Moe.Actors.Training;

/// <summary>
/// A trainer owns one device and a model replica. Its work (<see cref="TrainerPart"/>) runs off the mailbox, which
/// stays responsive: it takes new q, new rounds and stop requests while a step runs, and sends every step's
/// summaries to the balancers. An overlapped round (no parameters in its start) continues from where the trainer's
/// last round ended, if it finished that round; a trainer that did not waits for the round's parameters instead.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "An actor's life ends in PostStop, which releases them.")]
public sealed class Trainer : ReceiveActor, IWithTimers
{
    private readonly string _id;
    private readonly TrainerSettings _settings;
    private readonly IActorRef _coordinator;
    private readonly IActorRef _balancers;
    private readonly TensorHandoff? _handoff;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TrainerPart _part;
    private readonly NodeFailures _failures;

    private QBoard? _board;
    private string? _subscribedJob;
    private CancellationTokenSource? _running;
    private string? _runningAttempt;
    private (RoundStart Start, IActorRef From)? _next; // a new round that arrived while the previous one was stopping
    private (string Job, int Round)? _finished; // the round the model last finished: an overlapped round goes on from it
    private (string Attempt, TaskCompletionSource<BlobRef> Parameters)? _awaited; // of an overlapped round

    public Trainer(TrainerSetup setup, IActorRef coordinator, IActorRef balancers)
    {
        _id = setup.Id;
        _settings = setup.Settings;
        _coordinator = coordinator;
        _balancers = balancers;
        _handoff = setup.Handoff;
        _failures = setup.Failures;
        var log = _log;
        _part = new TrainerPart(setup.Id, setup.Device, setup.Settings, setup.IntraOpThreads, setup.Blobs, setup.Handoff, setup.CacheDirectory,
            setup.Metrics, setup.MemoryProblem, message => log.Info("{0}", message));

        Receive<RoundStart>(start => OnRoundStart(start, Sender));
        Receive<QPublished>(q => _board?.Offer(q.Layer, q.Step, q.Q, q.Window));
        Receive<CurrentQ>(q => _board?.Offer(q.Layer, q.Step, q.Q));
        Receive<RoundParameters>(OnRoundParameters);
        Receive<PartDone>(OnPartDone);
        Receive<JobFinished>(f =>
        {
            _log.Info("Job {0} finished after {1} rounds", f.JobId, f.Rounds);
            _running?.Cancel();
        });
        Receive<CommandRejected>(r => _log.Warning("Balancer of layer {0} rejected a summary of step {1}: {2}", r.Layer, r.Step, r.Reason));
        Receive<SubscribeAck>(_ => { });
        Receive<Register>(_ => _coordinator.Tell(new RegisterTrainer(_id)));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(TrainerSetup setup, IActorRef coordinator, IActorRef balancers) =>
        Akka.Actor.Props.Create(() => new Trainer(setup, coordinator, balancers));

    protected override void PreStart()
    {
        _coordinator.Tell(new RegisterTrainer(_id));
        Timers.StartPeriodicTimer("register", Register.Instance, _settings.RegisterInterval);
    }

    protected override void PostStop()
    {
        // A running part stops at its next step; the worker goes after it, on the same thread.
        _running?.Cancel();
        _part.Dispose();
    }

    /// <param name="from">The coordinator, which sends round starts itself.</param>
    private void OnRoundStart(RoundStart start, IActorRef from)
    {
        if (start.Attempt == _runningAttempt)
            return;
        if (start.Parameters is null && _awaited?.Attempt != start.Attempt)
            _awaited = (start.Attempt, new TaskCompletionSource<BlobRef>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (_running is not null)
        {
            _log.Info("Round {0} (attempt {1}) replaces the running attempt {2}", start.Round, start.Attempt, _runningAttempt);
            _running.Cancel();
            _next = (start, from); // started once the running part has stopped (see OnPartDone)
            return;
        }
        var spec = start.Spec;
        if (_subscribedJob != spec.JobId)
        {
            DistributedPubSub.Get(Context.System).Mediator.Tell(new Subscribe(BalancerTopics.For(spec.JobId), Self));
            _subscribedJob = spec.JobId;
            _board = new QBoard(spec.MoeLayers);
        }
        // A joining or restarted trainer starts from the balancers' current q.
        for (var layer = 0; layer < spec.MoeLayers; layer++)
            _balancers.Tell(new GetQ(spec.JobId, layer));

        _running = new CancellationTokenSource();
        _runningAttempt = start.Attempt;
        var token = _running.Token;
        var self = Self; // Self needs the actor's context, which the part's threads do not have
        var balancers = _balancers;
        var board = _board!;
        var parameters = start.Parameters is { } blob ? Task.FromResult(blob) : _awaited!.Value.Parameters.Task;
        var continues = start.Parameters is null && _finished == (spec.JobId, start.Round - 1);
        _finished = null; // the model leaves that state with this part
        // A coordinator on this node takes the delta from memory, unless slice owners step the job.
        var handoff = from is IActorRefScope { IsLocal: true } && !spec.Sliced ? _handoff : null;
        // Off the mailbox from the first line: a blob store may copy synchronously before its first await.
        Task.Run(() => _part.Run(start, board, parameters, continues, handoff, summary => balancers.Tell(summary, self), token), token)
            .PipeTo(self, success: r => new PartDone(start, r, null), failure: e => new PartDone(start, null, e));
    }

    private void OnRoundParameters(RoundParameters parameters)
    {
        if (_awaited is { } awaited && awaited.Attempt == parameters.Attempt)
            awaited.Parameters.TrySetResult(parameters.Parameters);
    }

    private void OnPartDone(PartDone done)
    {
        _running?.Dispose();
        _running = null;
        _runningAttempt = null;
        var start = done.Start;
        var cause = done.Error?.GetBaseException() ?? new InvalidOperationException("The round's part ended without a result.");
        if (done.Result is { } result)
        {
            _finished = (start.Spec.JobId, start.Round);
            _failures.Succeeded(_id);
            _coordinator.Tell(result);
        }
        else if (cause is OperationCanceledException)
        {
            _log.Info("Round {0} (attempt {1}) stopped", start.Round, start.Attempt);
        }
        else
        {
            _log.Error(cause, "Round {0} failed on trainer {1}", start.Round, _id);
            // A permanent failure ends this node; the round goes on without this trainer either way.
            _failures.Failed(_id, $"Trainer {_id} in round {start.Round} of job {start.Spec.JobId}", done.Error ?? cause);
            _coordinator.Tell(new RoundFailed(start.Spec.JobId, start.Round, start.Attempt, _id, cause.Message));
        }
        if (_next is { } next)
        {
            _next = null;
            OnRoundStart(next.Start, next.From);
        }
    }

    private sealed record PartDone(RoundStart Start, RoundResult? Result, Exception? Error);

    private sealed class Register
    {
        public static readonly Register Instance = new();
    }
}
