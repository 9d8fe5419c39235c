using System.Collections.Concurrent;
using Akka.Actor;
using Moe.Actors.Blobs;
using Moe.Model.Training;

namespace Moe.Actors.Training.Slices;

/// <summary>
/// The coordinator's side of a sliced outer step: it looks up each input's slices in its index, asks every slice
/// owner to step its slice, and stores the index of the new slices once all are durable. The coordinator moves only
/// the indexes: the parameters, momentum and deltas go between the store and the owners. An owner that does not
/// answer in the time its step's transfers may take has a node that died or is slow: the coordinator steps that
/// slice itself, with the owners' code (or, without a compute thread of its own, asks again), and only that slice
/// runs again; it goes on stepping that slice itself, while asking its owner too, until the owner answers again.
/// A slice that fails permanently fails the step, and the round runs again.
/// </summary>
/// <param name="ask">Sends a step to its slice's owner and returns the answer, or throws <see cref="AskTimeoutException"/>.</param>
/// <param name="answerTimeout">How long an owner may take to answer a step that reads and writes a number of bytes.</param>
/// <param name="here">Where the coordinator steps a slice whose owner did not answer; null: it asks again.</param>
internal sealed class SlicedOuterStep(IBlobStore blobs, Func<StepSlice, TimeSpan, CancellationToken, Task<object>> ask, Func<long, TimeSpan> answerTimeout,
    ComputeThread? here = null)
{
    public SlicedOuterStep(IBlobStore blobs, IActorRef owners, Func<long, TimeSpan> answerTimeout, ComputeThread? here = null)
        : this(blobs, (step, timeout, token) => owners.Ask<object>(step, timeout, token), answerTimeout, here)
    {
    }

    private readonly ConcurrentDictionary<int, bool> _silent = new(); // slices whose owner did not answer

    /// <summary>The time an owner may take beyond its bytes at the store's slowest bandwidth worth waiting for.</summary>
    public static readonly TimeSpan AnswerGrace = TimeSpan.FromSeconds(10);

    /// <summary>Asks of one slice before the step fails: the first, and one after each lost answer or transient failure.</summary>
    public const int AsksPerSlice = 3;

    public async Task<(BlobRef Parameters, BlobRef? Momentum)> Step(JobSpec spec, string attempt, BlobRef parameters, BlobRef? momentum,
        IReadOnlyList<RoundResult> results, CancellationToken token)
    {
        var slices = spec.Slices!.Value;
        var deltas = results.Select(r => r.Delta ?? throw new InvalidOperationException(
            $"The delta of trainer {r.TrainerId} was handed over in memory, but job {spec.JobId} steps its parameters in slices.")).ToList();
        var indexes = await Task.WhenAll(new[] { parameters }.Concat(momentum is null ? [] : [momentum]).Concat(deltas)
            .Select(index => SlicedBlobs.ReadIndexAsync(blobs, index, token))).ConfigureAwait(false);
        if (indexes.FirstOrDefault(i => i.Count != slices) is { } wrong)
            throw new InvalidDataException($"An input of the outer step of job {spec.JobId} has {wrong.Count} slices, the job {slices}.");
        var deltaSlices = indexes[(momentum is null ? 1 : 2)..];
        var asks = Enumerable.Range(0, slices).Select(s => StepOne(new StepSlice(spec.JobId, s, attempt, indexes[0][s],
            momentum is null ? null : indexes[1][s], [.. deltaSlices.Select(d => d[s])], spec.OuterLearningRate, spec.OuterMomentum), token)).ToList();
        try
        {
            var stepped = await Task.WhenAll(asks).ConfigureAwait(false);
            var tag = $"{spec.JobId} {attempt}";
            var newParameters = SlicedBlobs.WriteIndexAsync(blobs, $"{tag} parameters", [.. stepped.Select(s => s.Parameters)], BlobDurability.Durable, token);
            var newMomentum = spec.OuterMomentum > 0
                ? SlicedBlobs.WriteIndexAsync(blobs, $"{tag} momentum", [.. stepped.Select(s => s.Momentum!)], BlobDurability.Durable, token)
                : null;
            return (await newParameters.ConfigureAwait(false), newMomentum is null ? null : await newMomentum.ConfigureAwait(false));
        }
        catch
        {
            // No index will ever list what this attempt's owners stored (a failed step's round runs under a new
            // attempt), so it goes now or stays for good.
            await DeleteQuietly(asks.Where(a => a.IsCompletedSuccessfully).SelectMany(a => new[] { a.Result.Parameters, a.Result.Momentum }).OfType<BlobRef>())
                .ConfigureAwait(false);
            throw;
        }
    }

    private async Task DeleteQuietly(IEnumerable<BlobRef> slices)
    {
        foreach (var slice in slices)
        {
            try
            {
                await blobs.DeleteAsync(slice, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or HttpRequestException or UnauthorizedAccessException or InvalidOperationException)
            {
                // Left behind: the step's own failure is what the caller must hear of.
            }
        }
    }

    private async Task<SliceStepped> StepOne(StepSlice step, CancellationToken token)
    {
        // What the owner reads and writes: its parameter and momentum slices twice, every delta slice once.
        var timeout = answerTimeout(step.Deltas.Sum(d => d.Size) + (2 * (step.Parameters.Size + (step.Momentum?.Size ?? 0))));
        if (here is not null && _silent.ContainsKey(step.Slice))
        {
            // Its owner did not answer last time (a crashed node stays in the cluster until it is downed, and its
            // shards move only then): step it here at once, and ask it first again once it answers.
            _ = Probe(step, timeout);
            return await StepHere(step, token).ConfigureAwait(false);
        }
        for (var asked = 1; ; asked++)
        {
            object reply;
            try
            {
                reply = await ask(step, timeout, token).ConfigureAwait(false);
            }
            catch (AskTimeoutException) when (here is not null)
            {
                _silent[step.Slice] = true;
                return await StepHere(step, token).ConfigureAwait(false);
            }
            catch (AskTimeoutException) when (asked < AsksPerSlice)
            {
                continue; // the owner moved: its successor steps the slice again
            }
            catch (AskTimeoutException e)
            {
                throw new TimeoutException($"The owner of slice {step.Slice} did not answer {AsksPerSlice} times in {timeout.TotalSeconds:F0} s.", e);
            }
            switch (reply)
            {
                case SliceStepped stepped:
                    return stepped;
                case SliceStepFailed { Permanent: false } when asked < AsksPerSlice:
                    continue;
                case SliceStepFailed failed:
                    throw new InvalidOperationException($"Slice {failed.Slice} could not be stepped: {failed.Reason}");
                default:
                    throw new InvalidOperationException($"The owner of slice {step.Slice} answered {reply.GetType().Name}.");
            }
        }
    }

    // The owners' code gives the same slice here, stored under the same ids whichever finishes first.
    private async Task<SliceStepped> StepHere(StepSlice step, CancellationToken token)
    {
        using var work = new SliceStepWork(blobs, here!);
        return await work.Step(step, token).ConfigureAwait(false);
    }

    private async Task Probe(StepSlice step, TimeSpan timeout)
    {
        try
        {
            if (await ask(step, timeout, CancellationToken.None).ConfigureAwait(false) is SliceStepped)
                _silent.TryRemove(step.Slice, out _);
        }
        catch (Exception)
        {
            // Whatever went wrong, the slice stays silent: the next round steps it here again.
        }
    }
}
