using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Moe.Actors.Blobs;
using Moe.Model.Training;

namespace Moe.Actors.Training.Slices;

/// <summary>
/// The owner of one slice of a job's outer step, a sharded persistent entity on trainer nodes. Its work
/// (<see cref="SliceStepWork"/>) reads the N delta slices of its slice only; the actor journals each stepped slice
/// before it answers, so a repeated request (the coordinator's answer was lost, or the owner moved) gets the same
/// blobs without a second step. One step at a time; requests for another attempt wait.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "An actor's life ends in PostStop, which releases it.")]
public sealed class OuterSlice : ReceivePersistentActor
{
    private readonly SliceStepWork _work;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private SliceStepped? _last; // the last step journaled
    private (string Attempt, List<IActorRef> Waiting)? _running;

    public OuterSlice(string entityId, IBlobStore blobs, ComputeThread compute)
    {
        PersistenceId = $"outer-slice-{entityId}";
        _work = new SliceStepWork(blobs, compute);

        Recover<SliceStepped>(e => _last = e);
        Command<StepSlice>(OnStep);
        Command<Done>(OnDone);
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(f => _log.Warning("Could not delete the journal of earlier steps: {0}", f.Cause.Message)); // the next step deletes them too
    }

    public override string PersistenceId { get; }

    public static Props Props(string entityId, IBlobStore blobs, ComputeThread compute) =>
        Akka.Actor.Props.Create(() => new OuterSlice(entityId, blobs, compute));

    protected override void PostStop()
    {
        _work.Dispose();
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
        _work.Step(step, CancellationToken.None).PipeTo(Self, success: stepped => new Done(step, stepped, null), failure: e => new Done(step, null, e));
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
        Persist(done.Stepped!, e =>
        {
            _last = e;
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

    private sealed record Done(StepSlice Step, SliceStepped? Stepped, Exception? Failure);
}
