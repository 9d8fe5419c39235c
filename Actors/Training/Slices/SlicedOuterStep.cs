using Akka.Actor;
using Moe.Actors.Blobs;

namespace Moe.Actors.Training.Slices;

/// <summary>
/// The coordinator's side of a sliced outer step: it looks up each input's slices in its index, asks every slice
/// owner to step its slice, and stores the index of the new slices once all are durable. The coordinator moves only
/// the indexes: the parameters, momentum and deltas go between the store and the owners. An owner that does not
/// answer in the time its step's transfers may take (its node died, or it moved) is asked again, and only its slice
/// runs again; a slice that fails permanently fails the step, and the round runs again.
/// </summary>
/// <param name="ask">Sends a step to its slice's owner and returns the answer, or throws <see cref="AskTimeoutException"/>.</param>
/// <param name="transferTimeout">How long moving a number of bytes may take.</param>
internal sealed class SlicedOuterStep(IBlobStore blobs, Func<StepSlice, TimeSpan, CancellationToken, Task<object>> ask, Func<long, TimeSpan> transferTimeout)
{
    public SlicedOuterStep(IBlobStore blobs, IActorRef owners, Func<long, TimeSpan> transferTimeout)
        : this(blobs, (step, timeout, token) => owners.Ask<object>(step, timeout, token), transferTimeout)
    {
    }

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
        var timeout = transferTimeout(step.Deltas.Sum(d => d.Size) + (2 * (step.Parameters.Size + (step.Momentum?.Size ?? 0))));
        for (var asked = 1; ; asked++)
        {
            object reply;
            try
            {
                reply = await ask(step, timeout, token).ConfigureAwait(false);
            }
            catch (AskTimeoutException) when (asked < AsksPerSlice)
            {
                continue; // the owner died or moved: its successor steps the slice again
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
}
