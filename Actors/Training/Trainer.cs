using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Moe.Actors.Balancing;
using Moe.Actors.Blobs;
using Moe.Model.Data;
using Moe.Model.Training;
using Moe.Model.Training.Rounds;
using Moe.Observability;
using Tensor = TorchSharp.torch.Tensor;

namespace Moe.Actors.Training;

/// <summary>
/// A trainer owns one device and a model replica. Its libtorch work runs on a thread of its own for the trainer's
/// life (see <see cref="ComputeThread"/>), so the mailbox stays responsive (it takes new q, new rounds and stop
/// requests while a step runs); each step warm-starts BIP from the latest global q within the job's staleness
/// bound and sends every MoE layer's summary to its balancer. An overlapped round (no parameters in its start)
/// continues from where the trainer's last round ended for the job's OverlapSteps, then moves that progress onto
/// the round's parameters; a trainer that did not finish the round before waits for them instead.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "An actor's life ends in PostStop, which releases them.")]
public sealed class Trainer : ReceiveActor, IWithTimers
{
    private readonly string _id;
    private readonly string _device;
    private readonly TrainerSettings _settings;
    private readonly IActorRef _coordinator;
    private readonly IActorRef _balancers;
    private readonly IBlobStore _blobs;
    private readonly TensorHandoff? _handoff;
    private readonly string _cacheDirectory;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _self; // Self needs the actor's context, which the training thread does not have
    private readonly ComputeThread _compute;

    private RoundWorker? _worker;
    private string? _workerJob;
    private QBoard? _board;
    private string? _subscribedJob;
    private CancellationTokenSource? _running;
    private string? _runningAttempt;
    private (RoundStart Start, IActorRef From)? _next; // a new round that arrived while the previous one was stopping
    private (string Job, int Round)? _finished; // the round the model last finished: an overlapped round goes on from it
    private (string Attempt, TaskCompletionSource<BlobRef> Parameters)? _awaited; // of an overlapped round

    public Trainer(string id, string device, TrainerSettings settings, int intraOpThreads, IActorRef coordinator, IActorRef balancers,
        IBlobStore blobs, TensorHandoff? handoff, string cacheDirectory)
    {
        _id = id;
        _device = device;
        _settings = settings;
        _coordinator = coordinator;
        _balancers = balancers;
        _blobs = blobs;
        _handoff = handoff;
        _cacheDirectory = cacheDirectory;
        _self = Self;
        _compute = new ComputeThread($"trainer {id}", intraOpThreads);

        Receive<RoundStart>(start => OnRoundStart(start, Sender));
        Receive<QPublished>(q => _board?.Offer(q.Layer, q.Step, q.Q));
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

    public static Props Props(string id, string device, TrainerSettings settings, int intraOpThreads, IActorRef coordinator,
        IActorRef balancers, IBlobStore blobs, TensorHandoff? handoff, string cacheDirectory) =>
        Akka.Actor.Props.Create(() => new Trainer(id, device, settings, intraOpThreads, coordinator, balancers, blobs, handoff, cacheDirectory));

    protected override void PreStart()
    {
        _coordinator.Tell(new RegisterTrainer(_id));
        Timers.StartPeriodicTimer("register", Register.Instance, _settings.RegisterInterval);
    }

    protected override void PostStop()
    {
        // A running part stops at its next step; the worker goes after it, on the same thread.
        _running?.Cancel();
        _compute.Run(() => _worker?.Dispose());
        _compute.Dispose();
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
        var self = Self;
        var board = _board!;
        var parameters = start.Parameters is { } blob ? Task.FromResult(blob) : _awaited!.Value.Parameters.Task;
        var continues = start.Parameters is null && _finished == (spec.JobId, start.Round - 1);
        _finished = null; // the model leaves that state with this part
        var handoff = from is IActorRefScope { IsLocal: true } ? _handoff : null; // a coordinator on this node takes the delta from memory
        // Off the mailbox from the first line: a blob store may copy synchronously before its first await.
        Task.Run(() => RunPart(start, board, parameters, continues, handoff, token), token)
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
        var cause = done.Error?.GetBaseException();
        if (done.Result is { } result)
        {
            _finished = (start.Spec.JobId, start.Round);
            _coordinator.Tell(result);
        }
        else if (cause is OperationCanceledException)
        {
            _log.Info("Round {0} (attempt {1}) stopped", start.Round, start.Attempt);
        }
        else
        {
            _log.Error(cause, "Round {0} failed on trainer {1}", start.Round, _id);
            _coordinator.Tell(new RoundFailed(start.Spec.JobId, start.Round, start.Attempt, _id, cause?.Message ?? "unknown error"));
        }
        if (_next is { } next)
        {
            _next = null;
            OnRoundStart(next.Start, next.From);
        }
    }

    /// <summary>
    /// The trainer's part of a round. The global parameters stream from the blob store into tensor memory (on the
    /// pool: reading needs no kernel), and the delta streams from tensor memory into the store, with no work file
    /// between (on the coordinator's node both are handed over in memory instead); everything that runs kernels
    /// stays on the compute thread. A continued round reads its parameters while it takes its first OverlapSteps
    /// steps and rebases onto them before the next (every trainer at the same step, so the balancers merge
    /// summaries of one set of parameters; only rounds longer than that overlap), so a part ends on its round's
    /// parameters and the next round can go on from it.
    /// </summary>
    private async Task<RoundResult> RunPart(RoundStart start, QBoard board, Task<BlobRef> parameters, bool continues, TensorHandoff? handoff,
        CancellationToken token)
    {
        var spec = start.Spec;
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(token);
        Task<List<(string Name, Tensor Value)>>? pending = null;
        RoundWorker worker;
        if (continues)
        {
            worker = await _compute.Run(() => ContinueRound(spec)).ConfigureAwait(false);
            pending = ReadParameters(parameters, reading.Token);
        }
        else
        {
            var global = await ReadParameters(parameters, token).ConfigureAwait(false);
            worker = await _compute.Run(() => StartRound(spec, global)).ConfigureAwait(false);
        }
        try
        {
            var stats = await _compute.Run(() => Steps(start, board, worker, pending, token)).ConfigureAwait(false);
            if (worker.AwaitingGlobal) // the coordinator overlaps only rounds longer than their overlap
                throw new InvalidOperationException($"Round {start.Round} was continued but ended before its rebase at step {spec.OverlapSteps} of {spec.InnerSteps}.");
            var delta = await DeliverDelta(worker, start.Attempt, handoff, token).ConfigureAwait(false);
            _log.Info("Round {0}{1}: {2} steps took {3:F2} s, waiting for q {4:F2} s", start.Round, continues ? " (continued)" : "",
                spec.InnerSteps, stats.StepSeconds, stats.WaitSeconds);
            return new RoundResult(spec.JobId, start.Round, start.Attempt, start.Shard, delta, stats);
        }
        finally
        {
            // The part failed or was replaced before its rebase: the parameters are not read, or released once read.
            if (pending is not null && worker.AwaitingGlobal)
            {
                await reading.CancelAsync().ConfigureAwait(false);
                _ = pending.ContinueWith(read => read.Result.ForEach(p => p.Value.Dispose()), CancellationToken.None,
                    TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            }
        }
    }

    private async Task<List<(string Name, Tensor Value)>> ReadParameters(Task<BlobRef> parameters, CancellationToken token)
    {
        var blob = await parameters.WaitAsync(token).ConfigureAwait(false);
        return _handoff?.Take(blob) ?? await _blobs.ReadAsync(blob,
            (stream, _) => Task.FromResult(ParameterFile.Load(stream, $"global parameters {blob}")), token).ConfigureAwait(false);
    }

    // A coordinator on this node takes the delta from memory (see TensorHandoff); for any other, it streams from
    // tensor memory into the store (writing needs no kernel). A part stopped meanwhile delivers nothing: the
    // trainer did not finish that round.
    private async Task<BlobRef?> DeliverDelta(RoundWorker worker, string attempt, TensorHandoff? handoff, CancellationToken token)
    {
        var delta = await _compute.Run(worker.Delta).ConfigureAwait(false);
        var handedOver = false;
        try
        {
            token.ThrowIfCancellationRequested();
            if (handoff is not null)
            {
                handoff.OfferDelta(_id, attempt, delta);
                handedOver = true;
                return null;
            }
            return await _blobs.WriteAsync((stream, _) => Task.Run(() => ParameterFile.Save(stream, delta), token), BlobDurability.Transient, token)
                .ConfigureAwait(false);
        }
        finally
        {
            if (!handedOver)
                delta.ForEach(d => d.Value.Dispose());
        }
    }

    private RoundWorker ContinueRound(JobSpec spec)
    {
        var worker = EnsureWorker(spec);
        worker.ContinueRound();
        return worker;
    }

    private RoundWorker StartRound(JobSpec spec, List<(string Name, Tensor Value)> global)
    {
        RoundWorker worker;
        try
        {
            worker = EnsureWorker(spec);
        }
        catch
        {
            foreach (var (_, value) in global)
                value.Dispose();
            throw;
        }
        worker.StartRound(global);
        return worker;
    }

    /// <summary>Takes the round's H inner steps, rebasing a continued round before step OverlapSteps.</summary>
    private PartStats Steps(RoundStart start, QBoard board, RoundWorker worker, Task<List<(string Name, Tensor Value)>>? pending, CancellationToken token)
    {
        var spec = start.Spec;
        var loaded = new long[spec.MoeLayers];
        Array.Fill(loaded, -1);
        double lossSum = 0, worstMaxVio = 0;
        var layerMaxVio = new double[spec.MoeLayers];
        long tokens = 0;
        var staleSteps = 0;
        var waiting = TimeSpan.Zero;
        var stepping = TimeSpan.Zero;
        for (var h = 0; h < spec.InnerSteps; h++)
        {
            token.ThrowIfCancellationRequested();
            if (h == spec.OverlapSteps && pending is not null)
            {
                var commitWait = System.Diagnostics.Stopwatch.StartNew();
                var global = pending.WaitAsync(token).GetAwaiter().GetResult(); // the commit may be late; a failed read fails the part
                MoeMetrics.WaitedForParameters(_id, commitWait.Elapsed.TotalSeconds);
                worker.Rebase(global);
            }
            var step = (start.Round * spec.InnerSteps) + h;
            var waited = System.Diagnostics.Stopwatch.StartNew();
            if (!board.WaitForAll(step - 1 - spec.MaxStaleness, _settings.StalenessWait, token))
                staleSteps++;
            waiting += waited.Elapsed;
            var globalQ = new float[]?[spec.MoeLayers];
            for (var layer = 0; layer < spec.MoeLayers; layer++)
            {
                var (qStep, q) = board.Latest(layer);
                if (q is not null && qStep > loaded[layer])
                    (globalQ[layer], loaded[layer]) = (q, qStep);
            }
            var stepped = System.Diagnostics.Stopwatch.StartNew();
            var metrics = worker.Step(start.Shard, h, step, globalQ);
            stepping += stepped.Elapsed;
            MoeMetrics.Step(_id, metrics.Duration.TotalSeconds, metrics.Tokens);
            lossSum += metrics.Loss;
            tokens += metrics.Tokens;
            worstMaxVio = Math.Max(worstMaxVio, metrics.WorstMaxVio);
            foreach (var layer in metrics.Layers)
                layerMaxVio[layer.Layer] += layer.Measures.MaxVio / spec.InnerSteps;
            SendSummaries(spec, step, start.Contributors, worker, metrics.Tokens);
        }
        return new PartStats(_id, tokens, lossSum / spec.InnerSteps, stepping.TotalSeconds, waiting.TotalSeconds, staleSteps, layerMaxVio, worstMaxVio);
    }

    private void SendSummaries(JobSpec spec, long step, int contributors, RoundWorker worker, long tokens)
    {
        for (var layer = 0; layer < worker.Layers.Count; layer++)
        {
            var moe = worker.Layers[layer];
            var histogram = moe.LastSummary ?? throw new InvalidOperationException($"MoE layer {layer} produced no summary.");
            _balancers.Tell(new StepSummary(spec.JobId, layer, _id, step, contributors, tokens,
                moe.LastLoads, histogram.ToSparse(), worker.LocalQ(layer)), _self);
        }
    }

    // The dataset and model replica are built once per job, on the compute thread.
    private RoundWorker EnsureWorker(JobSpec spec)
    {
        if (_worker is not null && _workerJob == spec.JobId)
            return _worker;
        _worker?.Dispose();
        var data = Corpus.Load(spec.TextPath, _cacheDirectory, spec.Model.VocabSize, m => _log.Info("{0}", m));
        _worker = new RoundWorker(spec.Model, spec.Training with { Device = _device }, data, spec.InnerSteps, spec.LayerSpec.Range);
        _workerJob = spec.JobId;
        return _worker;
    }

    private sealed record PartDone(RoundStart Start, RoundResult? Result, Exception? Error);

    private sealed class Register
    {
        public static readonly Register Instance = new();
    }
}
