using Moe.Actors.Blobs;
using Moe.Model.Training;
using Moe.Model.Training.Rounds;

namespace Moe.Actors.Training.Slices;

/// <summary>
/// A slice owner's work, without the actor: read the slice of every input, step it, store the new slices durably.
/// The parameter and momentum slices it stored stay in memory for the next step, which reads only the deltas then;
/// any other input comes from the store. Kernels run on the given compute thread; reads and writes on the pool.
/// One step at a time.
/// </summary>
public sealed class SliceStepWork(IBlobStore blobs, ComputeThread compute) : IDisposable
{
    private Kept? _parameters, _momentum;

    public async Task<SliceStepped> Step(StepSlice step, CancellationToken token)
    {
        // The kept slices leave the cache for the step, so a step that fails leaves nothing half-updated behind.
        var global = Take(ref _parameters, step.Parameters) ?? Read(step.Parameters, "parameters", step, token);
        var velocity = step.Momentum is { } m ? Take(ref _momentum, m) ?? Read(m, "momentum", step, token) : null;
        _momentum?.Tensors.Dispose();
        _momentum = null;
        var deltas = step.Deltas.Select((d, k) => Read(d, $"delta {k}", step, token)).ToList();
        List<Task<ParameterSet>> inputs = [global, .. deltas];
        if (velocity is not null)
            inputs.Add(velocity);
        ParameterSet? next = null, nextVelocity = null;
        try
        {
            await Task.WhenAll(inputs).ConfigureAwait(false);
            (next, nextVelocity) = await compute.Run(() => OuterNesterov.Step(global.Result, [.. deltas.Select(d => d.Result)], velocity?.Result,
                step.LearningRate, step.MomentumFactor)).ConfigureAwait(false);
            var tag = $"{step.JobId} {step.Attempt}";
            var stored = await Task.WhenAll(Write(next, $"{tag} parameters slice {step.Slice}", token),
                nextVelocity is null ? Task.FromResult<BlobRef?>(null) : Write(nextVelocity, $"{tag} momentum slice {step.Slice}", token)).ConfigureAwait(false);
            _parameters = new Kept(stored[0]!, next);
            _momentum = nextVelocity is null ? null : new Kept(stored[1]!, nextVelocity);
            (next, nextVelocity) = (null, null);
            return new SliceStepped(step.JobId, step.Slice, step.Attempt, stored[0]!, stored[1]);
        }
        finally
        {
            foreach (var input in inputs.Where(i => i.IsCompletedSuccessfully))
                input.Result.Dispose();
            next?.Dispose();
            nextVelocity?.Dispose();
        }
    }

    public void Dispose()
    {
        _parameters?.Tensors.Dispose();
        _momentum?.Tensors.Dispose();
        (_parameters, _momentum) = (null, null);
    }

    private static Task<ParameterSet>? Take(ref Kept? kept, BlobRef blob)
    {
        var taken = kept;
        kept = null;
        if (taken?.Blob == blob)
            return Task.FromResult(taken.Tensors);
        taken?.Tensors.Dispose();
        return null;
    }

    private Task<ParameterSet> Read(BlobRef blob, string what, StepSlice step, CancellationToken token) =>
        SlicedBlobs.ReadSliceAsync(blobs, blob, $"{what} of slice {step.Slice} of attempt {step.Attempt}", token);

    private async Task<BlobRef?> Write(ParameterSet tensors, string tag, CancellationToken token) =>
        await SlicedBlobs.WriteSliceAsync(blobs, tensors, tag, DeltaPrecision.Fp32, BlobDurability.Durable, token).ConfigureAwait(false);

    private sealed record Kept(BlobRef Blob, ParameterSet Tensors);
}
