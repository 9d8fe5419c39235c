using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Moe.Actors.Blobs;
using Moe.Model.Training;
using Moe.Model.Training.Rounds;

namespace Moe.Actors.Training.Slices;

/// <summary>
/// The owner of one slice of a job's outer step, a sharded persistent entity on trainer nodes: it reads the N delta
/// slices of its slice only, steps them with its parameter and momentum slices, stores the new slices durably and
/// journals them before it answers, so a repeated request (the coordinator's answer was lost, or the owner moved)
/// gets the same blobs without a second step. It keeps the slices it stored in memory for the next round; anything
/// else it reads from the store. One step at a time; requests for another attempt wait.
/// </summary>
public sealed class OuterSlice : ReceivePersistentActor
{
    private readonly IBlobStore _blobs;
    private readonly ComputeThread _compute;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private SliceStepped? _last; // the last step journaled
    private Kept? _parameters, _momentum;
    private (string Attempt, List<IActorRef> Waiting)? _running;

    public OuterSlice(string entityId, IBlobStore blobs, ComputeThread compute)
    {
        PersistenceId = $"outer-slice-{entityId}";
        _blobs = blobs;
        _compute = compute;

        Recover<SliceStepped>(e => _last = e);
        Command<StepSlice>(OnStep);
        Command<Done>(OnDone);
    }

    public override string PersistenceId { get; }

    public static Props Props(string entityId, IBlobStore blobs, ComputeThread compute) =>
        Akka.Actor.Props.Create(() => new OuterSlice(entityId, blobs, compute));

    protected override void PostStop()
    {
        _parameters?.Tensors.Dispose();
        _momentum?.Tensors.Dispose();
        base.PostStop();
    }

    private void OnStep(StepSlice step)
    {
        if (_last is { } last && last.Attempt == step.Attempt)
        {
            Sender.Tell(last);
            return;
        }
        if (_running is { } running)
        {
            if (running.Attempt == step.Attempt)
                running.Waiting.Add(Sender);
            else
                Stash.Stash();
            return;
        }
        _running = (step.Attempt, [Sender]);
        // The kept slices leave the actor for the step; what it does not use is released.
        var parameters = Take(ref _parameters, step.Parameters);
        var momentum = step.Momentum is { } m ? Take(ref _momentum, m) : null;
        _momentum?.Tensors.Dispose();
        _momentum = null;
        Run(step, parameters, momentum).PipeTo(Self,
            success: stepped => new Done(step, stepped.Reply, stepped.Parameters, stepped.Momentum, null),
            failure: e => new Done(step, null, null, null, e));
    }

    private void OnDone(Done done)
    {
        if (done.Failure is { } failure)
        {
            var cause = failure.GetBaseException();
            var permanent = cause is BlobCorruptedException or FileNotFoundException or InvalidDataException or ArgumentException;
            _log.Warning("Slice {0} of attempt {1} failed: {2}", done.Step.Slice, done.Step.Attempt, cause.Message);
            Answer(new SliceStepFailed(done.Step.JobId, done.Step.Slice, done.Step.Attempt, cause.Message, permanent));
            return;
        }
        var stepped = done.Stepped!;
        Persist(stepped, e =>
        {
            _last = e;
            _parameters = new Kept(e.Parameters, done.Parameters!);
            _momentum = e.Momentum is { } momentum ? new Kept(momentum, done.Momentum!) : null;
            if (LastSequenceNr > 1)
                DeleteMessages(LastSequenceNr - 1); // only the last step is ever asked for again
            Answer(e);
        });
    }

    private void Answer(object reply)
    {
        foreach (var waiting in _running!.Value.Waiting)
            waiting.Tell(reply);
        _running = null;
        Stash.UnstashAll();
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

    private async Task<(SliceStepped Reply, ParameterSet Parameters, ParameterSet? Momentum)> Run(StepSlice step, Task<ParameterSet>? keptParameters,
        Task<ParameterSet>? keptMomentum)
    {
        var what = $"slice {step.Slice} of attempt {step.Attempt}";
        var global = keptParameters ?? SlicedBlobs.ReadSliceAsync(_blobs, step.Parameters, $"parameters {what}", CancellationToken.None);
        var velocity = step.Momentum is { } m ? keptMomentum ?? SlicedBlobs.ReadSliceAsync(_blobs, m, $"momentum {what}", CancellationToken.None) : null;
        var deltas = step.Deltas.Select((d, k) => SlicedBlobs.ReadSliceAsync(_blobs, d, $"delta {k} {what}", CancellationToken.None)).ToList();
        List<Task<ParameterSet>> inputs = [global, .. deltas];
        if (velocity is not null)
            inputs.Add(velocity);
        ParameterSet? next = null, nextVelocity = null;
        try
        {
            await Task.WhenAll(inputs).ConfigureAwait(false);
            (next, nextVelocity) = await _compute.Run(() => OuterNesterov.Step(global.Result, [.. deltas.Select(d => d.Result)], velocity?.Result,
                step.LearningRate, step.MomentumFactor)).ConfigureAwait(false);
            var tag = $"{step.JobId} {step.Attempt}";
            var stored = await Task.WhenAll(
                SlicedBlobs.WriteSliceAsync(_blobs, next, $"{tag} parameters slice {step.Slice}", DeltaPrecision.Fp32, BlobDurability.Durable, CancellationToken.None),
                nextVelocity is null
                    ? Task.FromResult<BlobRef>(null!)
                    : SlicedBlobs.WriteSliceAsync(_blobs, nextVelocity, $"{tag} momentum slice {step.Slice}", DeltaPrecision.Fp32, BlobDurability.Durable,
                        CancellationToken.None)).ConfigureAwait(false);
            var result = (new SliceStepped(step.JobId, step.Slice, step.Attempt, stored[0], nextVelocity is null ? null : stored[1]), next, nextVelocity);
            (next, nextVelocity) = (null, null);
            return result;
        }
        finally
        {
            foreach (var input in inputs.Where(i => i.IsCompletedSuccessfully))
                input.Result.Dispose();
            next?.Dispose();
            nextVelocity?.Dispose();
        }
    }

    private sealed record Kept(BlobRef Blob, ParameterSet Tensors);

    private sealed record Done(StepSlice Step, SliceStepped? Stepped, ParameterSet? Parameters, ParameterSet? Momentum, Exception? Failure);
}
