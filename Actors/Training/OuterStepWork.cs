using Akka.Actor;
using Moe.Actors.Blobs;
using Moe.Actors.Training.Slices;
using Moe.Model.Training;
using Moe.Model.Training.Rounds;
using static TorchSharp.torch;

namespace Moe.Actors.Training;

/// <summary>
/// The coordinator's heavy lifting, off the actor's thread: a job's initial parameters, and a round's outer step
/// (read and verify the deltas, average, Nesterov, store the new parameters and momentum). Kernels run on a compute
/// thread of its own with one libtorch thread: the outer step is elementwise, and one thread adds no OpenMP team
/// beside the trainers' (see <see cref="ComputeThread"/>). Reading and writing blobs needs no kernel and runs on
/// the pool, side by side. Deltas from trainers on this node come from the <see cref="TensorHandoff"/> only, and the
/// new parameters go there for them as well as to the store. A job stepped in slices hands its step to the slice
/// owners (<see cref="SlicedOuterStep"/>) and keeps nothing in memory.
/// </summary>
/// <param name="sliceOwners">The slice owners' shard region, which steps jobs stepped in slices; null where there is none (a test).</param>
/// <param name="minBandwidth">The store's slowest bandwidth worth waiting for, in bytes per second: how long a slice owner may take.</param>
internal sealed class OuterStepWork(IBlobStore blobs, TensorHandoff? handoff, IActorRef? sliceOwners = null, long minBandwidth = BlobStoreSettings.DefaultMinBandwidth)
    : IDisposable
{
    /// <summary>The coordinator's slot in the handoff: each step's parameters replace the last step's.</summary>
    private const string HandoffSlot = "coordinator";

    private readonly ComputeThread _compute = new("coordinator", intraOpThreads: 1);
    private SlicedOuterStep? _sliced;
    private readonly Lock _lock = new();

    // The parameters and momentum the last step stored, kept in memory: every trainer waits for the round boundary,
    // and reading them back cost a third of it. Keyed by blob, so whatever the journal points at instead (after a
    // restart, a failover or a round that did not commit) is read from the store.
    private Stored? _parameters;
    private Stored? _momentum;
    private bool _disposed;

    /// <returns>The job as it starts (no more slices than tensors) and its initial parameters.</returns>
    public async Task<(JobSpec Spec, BlobRef Parameters)> InitialParameters(JobSpec spec, CancellationToken token)
    {
        var parameters = await _compute.Run(() =>
        {
            manual_seed(spec.Seed);
            using var model = new Moe.Model.Network.MoeTransformer(spec.Model);
            return ParameterSet.Of(model);
        }).ConfigureAwait(false);
        BlobRef blob;
        try
        {
            spec = spec with { Slices = Math.Min(spec.Slices ?? 0, parameters.Count) };
            blob = await ParameterBlobs.WriteAsync(blobs, spec, parameters, "initial parameters", DeltaPrecision.Fp32, BlobDurability.Durable, token)
                .ConfigureAwait(false);
        }
        catch
        {
            parameters.Dispose();
            throw;
        }
        if (spec.Sliced)
            parameters.Dispose();
        else
            Keep(ref _parameters, new Stored(blob, parameters));
        return (spec, blob);
    }

    /// <param name="localReaders">Trainers on this node that will read the new parameters (through the handoff).</param>
    public async Task<(BlobRef Parameters, BlobRef? Momentum)> Step(
        JobSpec spec, string attempt, BlobRef parameters, BlobRef? momentum, IReadOnlyList<RoundResult> results, int localReaders, CancellationToken token)
    {
        if (spec.Sliced)
        {
            _sliced ??= new SlicedOuterStep(blobs,
                sliceOwners ?? throw new InvalidOperationException($"Job {spec.JobId} is stepped in slices, and this node has no slice owners to ask."),
                bytes => SlicedOuterStep.AnswerGrace + TimeSpan.FromSeconds((double)bytes / minBandwidth), _compute);
            return await _sliced.Step(spec, attempt, parameters, momentum, results, token).ConfigureAwait(false);
        }
        var inputs = new List<Task<ParameterSet>>();
        ParameterSet? next = null, nextVelocity = null;
        Task<ParameterSet>? handed = null; // the copy for the handoff
        try
        {
            var global = Taken(ref _parameters, parameters) ?? Read(parameters, "global parameters", token);
            var velocity = momentum is null ? null : Taken(ref _momentum, momentum) ?? Read(momentum, "outer momentum", token);
            var deltaReads = results.Select(r => r.Delta is { } delta ? Read(delta, "delta", token) : Handed(r)).ToList();
            inputs.Add(global);
            if (velocity is not null)
                inputs.Add(velocity);
            inputs.AddRange(deltaReads);
            await Task.WhenAll(inputs).ConfigureAwait(false);

            (next, nextVelocity) = await _compute.Run(() => OuterNesterov.Step(global.Result,
                [.. deltaReads.Select(r => r.Result)], velocity?.Result, spec.OuterLearningRate, spec.OuterMomentum)).ConfigureAwait(false);
            var computed = next;
            handed = handoff is not null && localReaders > 0 ? Task.Run(computed.Copy, token) : null;
            var stored = await Task.WhenAll(WriteIfAny(next, token), WriteIfAny(nextVelocity, token)).ConfigureAwait(false);
            if (handed is not null)
                handoff!.Offer(HandoffSlot, stored[0]!, await handed.ConfigureAwait(false), localReaders);
            handed = null;
            Keep(ref _parameters, new Stored(stored[0]!, next));
            Keep(ref _momentum, nextVelocity is null ? null : new Stored(stored[1]!, nextVelocity));
            (next, nextVelocity) = (null, null);
            return (stored[0]!, stored[1]);
        }
        finally
        {
            // The inputs are spent (a failed read released its own); new tensors not kept are released too.
            foreach (var input in inputs.Where(i => i.IsCompletedSuccessfully))
                input.Result.Dispose();
            next?.Dispose();
            nextVelocity?.Dispose();
            _ = handed?.ContinueWith(copy => copy.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// Reads back each checkpoint's blobs, newest first, until one is whole: its round (null if none is), and what
    /// was wrong with the newer ones. A damaged blob goes to the store's quarantine as it is read.
    /// </summary>
    public async Task<(int? Round, string Problem)> Verify(JobSpec spec, IReadOnlyList<Protocol.Checkpoint> newestFirst, CancellationToken token)
    {
        var problems = new List<string>();
        foreach (var checkpoint in newestFirst)
        {
            var problem = await ParameterBlobs.DamageAsync(blobs, spec, checkpoint.Parameters, "parameters", token).ConfigureAwait(false)
                ?? (checkpoint.Momentum is { } momentum ? await ParameterBlobs.DamageAsync(blobs, spec, momentum, "momentum", token).ConfigureAwait(false) : null);
            if (problem is null)
                return (checkpoint.Round, string.Join("; ", problems));
            problems.Add($"round {checkpoint.Round}: {problem}");
        }
        return (null, string.Join("; ", problems));
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _parameters?.Tensors.Dispose();
            _momentum?.Tensors.Dispose();
            (_parameters, _momentum) = (null, null);
        }
        _compute.Dispose();
    }

    // Kept tensors leave the cache while a step uses them, so a step that fails leaves nothing half-updated behind.
    private Task<ParameterSet>? Taken(ref Stored? kept, BlobRef blob)
    {
        Stored? taken;
        lock (_lock)
            (taken, kept) = (kept, null);
        if (taken?.Blob == blob)
            return Task.FromResult(taken.Tensors);
        taken?.Tensors.Dispose();
        return null;
    }

    private void Keep(ref Stored? kept, Stored? stored)
    {
        lock (_lock)
        {
            kept?.Tensors.Dispose();
            kept = _disposed ? null : stored;
            if (_disposed)
                stored?.Tensors.Dispose();
        }
    }

    private Task<ParameterSet> Read(BlobRef blob, string what, CancellationToken token) =>
        blobs.ReadAsync(blob, (stream, cancel) => Task.Run(() => ParameterFile.Load(stream, $"{what} {blob}"), cancel), token);

    // A delta that went to this node's handoff and nowhere else. Each round attempt takes it once, so it is missing
    // only if the handoff closed (the node is stopping) or this coordinator has none.
    private Task<ParameterSet> Handed(RoundResult result) =>
        handoff?.TakeDelta(result.TrainerId, result.Attempt) is { } delta
            ? Task.FromResult(delta)
            : Task.FromException<ParameterSet>(new InvalidOperationException(
                $"The delta of trainer {result.TrainerId} for round {result.Round} was handed over in memory on this node and is not there " +
                "(the node is stopping, or its coordinator has no handoff); the round runs again."));

    private Task<BlobRef> Write(ParameterSet tensors, CancellationToken token) =>
        blobs.WriteAsync((stream, cancel) => Task.Run(() => ParameterFile.Save(stream, tensors), cancel), BlobDurability.Durable, token);

    private async Task<BlobRef?> WriteIfAny(ParameterSet? tensors, CancellationToken token) =>
        tensors is null ? null : await Write(tensors, token).ConfigureAwait(false);

    private sealed record Stored(BlobRef Blob, ParameterSet Tensors);
}
