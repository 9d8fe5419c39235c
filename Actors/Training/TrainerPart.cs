using Moe.Actors.Balancing;
using Moe.Actors.Blobs;
using Moe.Actors.Faults;
using Moe.Model.Balancing;
using Moe.Model.Data;
using Moe.Model.Training;
using Moe.Model.Training.Rounds;
using Moe.Observability;

namespace Moe.Actors.Training;

/// <summary>
/// A trainer's work, without the actor: its model replica and data, and its part of each round. Libtorch work runs
/// on a thread of its own for the trainer's life (see <see cref="ComputeThread"/>). Each step waits, within the
/// job's staleness bound, for the global q of every layer, warm-starts the routers from the newest q it has, and
/// hands every layer's summary (or, for a skipped step, its release) to <c>summaries</c> (the actor sends them to the
/// balancers).
/// </summary>
internal sealed class TrainerPart(
    string trainerId,
    string device,
    TrainerSettings settings,
    int intraOpThreads,
    IBlobStore blobs,
    TensorHandoff? handoff,
    string cacheDirectory,
    NodeMetrics metrics,
    Func<JobSpec, string?> memoryProblem,
    Action<string> log) : IDisposable
{
    private readonly ComputeThread _compute = new($"trainer {trainerId}", intraOpThreads);
    private RoundWorker? _worker;
    private string? _workerJob;
    private TimeSpan? _recentStep; // a moving average of this trainer's step time, which bounds its waits for q
    private Vocabulary? _vocabulary;
    private BlobRef? _storedVocabulary;

    /// <summary>
    /// The trainer's part of a round. The global parameters stream from the blob store into tensor memory (on the
    /// pool: reading needs no kernel), and the delta streams from tensor memory into the store, with no work file
    /// between (on the coordinator's node both are handed over in memory instead); everything that runs kernels
    /// stays on the compute thread. A continued round (<paramref name="continues"/>) goes on from where the last
    /// one ended, reads its parameters while it takes its first OverlapSteps steps and rebases onto them before the
    /// next (every trainer at the same step, so the balancers merge summaries of one set of parameters).
    /// </summary>
    /// <param name="deltaHandoff">The handoff of a coordinator on this node, which takes the delta from memory; null: the store.</param>
    public async Task<RoundResult> Run(RoundStart start, QBoard board, Task<BlobRef> parameters, bool continues, TensorHandoff? deltaHandoff,
        Action<IBalancerCommand> summaries, CancellationToken token)
    {
        var spec = start.Spec;
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(token);
        Task<ParameterSet>? pending = null;
        RoundWorker worker;
        if (continues)
        {
            worker = await _compute.Run(() => ContinueRound(spec)).ConfigureAwait(false);
            pending = ReadParameters(spec, parameters, reading.Token);
        }
        else
        {
            var global = await ReadParameters(spec, parameters, token).ConfigureAwait(false);
            worker = await _compute.Run(() => StartRound(spec, global)).ConfigureAwait(false);
        }
        try
        {
            var stats = await _compute.Run(() => Steps(start, board, worker, pending, summaries, token)).ConfigureAwait(false);
            if (worker.AwaitingGlobal) // the coordinator overlaps only rounds longer than their overlap
                throw new InvalidOperationException($"Round {start.Round} was continued but ended before its rebase at step {spec.OverlapSteps} of {spec.InnerSteps}.");
            var delta = await DeliverDelta(worker, spec, start.Attempt, deltaHandoff, token).ConfigureAwait(false);
            log($"Round {start.Round}{(continues ? " (continued)" : "")}: {spec.InnerSteps} steps took {stats.StepSeconds:F2} s, waiting for q {stats.WaitSeconds:F2} s");
            return new RoundResult(spec.JobId, start.Round, start.Attempt, start.Shard, delta, stats)
            {
                Q = GlobalQ.Of(board, spec.Model.Experts),
                Vocabulary = await StoredVocabulary(token).ConfigureAwait(false),
            };
        }
        finally
        {
            // The part failed or was replaced before its rebase: the parameters are not read, or released once read.
            if (pending is not null && worker.AwaitingGlobal)
            {
                await reading.CancelAsync().ConfigureAwait(false);
                _ = pending.ContinueWith(read => read.Result.Dispose(), CancellationToken.None,
                    TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            }
        }
    }

    public void Dispose()
    {
        _compute.Run(() => _worker?.Dispose());
        _compute.Dispose();
    }

    private async Task<ParameterSet> ReadParameters(JobSpec spec, Task<BlobRef> parameters, CancellationToken token)
    {
        var blob = await parameters.WaitAsync(token).ConfigureAwait(false);
        return handoff?.Take(blob) ?? await ParameterBlobs.ReadAsync(blobs, spec, blob, "global parameters", token).ConfigureAwait(false);
    }

    // Stored once per job (the same content is stored once however many trainers write it).
    private async Task<BlobRef> StoredVocabulary(CancellationToken token)
    {
        if (_storedVocabulary is null)
        {
            var json = _vocabulary!.ToJson();
            _storedVocabulary = await blobs.WriteAsync((stream, t) => stream.WriteAsync(json, t).AsTask(), BlobDurability.Durable, token).ConfigureAwait(false);
        }
        return _storedVocabulary;
    }

    // A part stopped meanwhile delivers nothing: the trainer did not finish that round. A delta handed over in
    // memory is rounded as the store would keep it, so the precision gives the same outer step either way.
    private async Task<BlobRef?> DeliverDelta(RoundWorker worker, JobSpec spec, string attempt, TensorHandoff? deltaHandoff, CancellationToken token)
    {
        var precision = spec.DeltaPrecision;
        var delta = await _compute.Run(worker.Delta).ConfigureAwait(false);
        var handedOver = false;
        try
        {
            token.ThrowIfCancellationRequested();
            if (deltaHandoff is not null)
            {
                if (precision == DeltaPrecision.Bf16)
                    BFloat16.Round(delta);
                deltaHandoff.OfferDelta(trainerId, attempt, delta);
                handedOver = true;
                return null;
            }
            return await ParameterBlobs.WriteAsync(blobs, spec, delta, $"{attempt} delta {trainerId}", precision, BlobDurability.Transient, token)
                .ConfigureAwait(false);
        }
        finally
        {
            if (!handedOver)
                delta.Dispose();
        }
    }

    private RoundWorker ContinueRound(JobSpec spec)
    {
        var worker = EnsureWorker(spec);
        worker.ContinueRound();
        return worker;
    }

    private RoundWorker StartRound(JobSpec spec, ParameterSet global)
    {
        RoundWorker worker;
        try
        {
            worker = EnsureWorker(spec);
        }
        catch
        {
            global.Dispose();
            throw;
        }
        worker.StartRound(global);
        return worker;
    }

    /// <summary>Takes the round's H inner steps, rebasing a continued round before step OverlapSteps.</summary>
    private PartStats Steps(RoundStart start, QBoard board, RoundWorker worker, Task<ParameterSet>? pending,
        Action<IBalancerCommand> summaries, CancellationToken token)
    {
        var spec = start.Spec;
        var stats = new PartStatsBuilder(trainerId, spec.MoeLayers);
        var loaded = new long[spec.MoeLayers];
        Array.Fill(loaded, -1);
        for (var h = 0; h < spec.InnerSteps; h++)
        {
            token.ThrowIfCancellationRequested();
            if (h == spec.OverlapSteps && pending is not null)
            {
                var commitWait = System.Diagnostics.Stopwatch.StartNew();
                var global = pending.WaitAsync(token).GetAwaiter().GetResult(); // the commit may be late; a failed read fails the part
                metrics.WaitedForParameters(spec.JobId, trainerId, commitWait.Elapsed.TotalSeconds);
                worker.Rebase(global);
            }
            var step = (start.Round * spec.InnerSteps) + h;
            var waited = System.Diagnostics.Stopwatch.StartNew();
            var fresh = board.WaitForAll(step - 1 - spec.MaxStaleness, settings.WaitForQ(_recentStep), token);
            stats.Waited(waited.Elapsed, fresh);
            var stepped = System.Diagnostics.Stopwatch.StartNew();
            var windows = WindowsAt(board, step - spec.WindowLag, spec.LayerSpec);
            var (measured, layers) = worker.Step(start.Shard, h, step, NewerQ(board, loaded), windows);
            stats.Stepped(stepped.Elapsed, measured);
            _recentStep = _recentStep is { } recent ? (recent * 0.8) + (stepped.Elapsed * 0.2) : stepped.Elapsed;
            metrics.Step(spec.JobId, trainerId, measured.Duration.TotalSeconds, measured.Skipped ? 0 : measured.Tokens);
            if (measured.Skipped)
            {
                metrics.SkippedStep(spec.JobId, trainerId);
                log($"Step {step} skipped: its loss ({measured.Loss}) or gradient norm ({measured.GradientNorm}) was not finite; no parameter moved and no summary was sent");
                for (var layer = 0; layer < spec.MoeLayers; layer++)
                    summaries(new StepsReleased(spec.JobId, layer, trainerId, step, step)); // the step closes on the others
            }
            for (var layer = 0; layer < layers.Count; layer++)
            {
                summaries(new StepSummary(spec.JobId, layer, trainerId, step, start.Contributors, measured.Tokens,
                    layers[layer].Loads, layers[layer].Histogram.ToSparse())
                { Window = windows[layer].Step >= 0 ? windows[layer] : null });
            }
        }
        return stats.Build();
    }

    // Per layer, the balancer's q when it is newer than the one the router last loaded; null keeps the router's own.
    private static float[]?[] NewerQ(QBoard board, long[] loaded)
    {
        var globalQ = new float[]?[loaded.Length];
        for (var layer = 0; layer < loaded.Length; layer++)
        {
            var (qStep, q) = board.Latest(layer);
            if (q is not null && qStep > loaded[layer])
                (globalQ[layer], loaded[layer]) = (q, qStep);
        }
        return globalQ;
    }

    // Per layer, the window the balancer published at or before `step`; the job's fixed range until there is one.
    private static ReadoutWindow[] WindowsAt(QBoard board, long step, LayerSpec layer) =>
        [.. Enumerable.Range(0, board.Layers).Select(k => board.WindowAt(k, step) ?? ReadoutWindow.Fixed(layer.Range, layer.Experts))];

    // The dataset and model replica are built once per job, on the compute thread.
    private RoundWorker EnsureWorker(JobSpec spec)
    {
        if (_worker is not null && _workerJob == spec.JobId)
            return _worker;
        _worker?.Dispose();
        _worker = null;
        if (memoryProblem(spec) is { } problem)
            throw new PermanentFailureException(FailureKind.Input, problem);
        var data = Corpus.Load(spec.TextPath, cacheDirectory, spec.Model.VocabSize, log);
        (_vocabulary, _storedVocabulary) = (data.Vocabulary, null);
        _worker = new RoundWorker(spec.Model, spec.Training with { Device = device, AllowTf32 = settings.AllowTf32 }, data, spec.InnerSteps, spec.LayerSpec.Clip);
        _workerJob = spec.JobId;
        return _worker;
    }
}
