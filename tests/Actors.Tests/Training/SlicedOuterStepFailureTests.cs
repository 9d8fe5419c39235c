using Akka.Actor;
using Moe.Actors.Blobs;
using Moe.Actors.Tests.Blobs;
using Moe.Actors.Training;
using Moe.Actors.Training.Slices;
using Moe.Model.Devices;
using Moe.Model.Training.Rounds;
using Moe.Testing;
using static TorchSharp.torch;

namespace Moe.Actors.Tests.Training;

/// <summary>The coordinator's side of a sliced step against owners the test plays.</summary>
public sealed class SlicedOuterStepFailureTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly DirectoryBlobStore _store;
    private readonly JobSpec _spec = new() { JobId = "job", Slices = 3, OuterMomentum = 0.9, OuterLearningRate = 0.7 };

    public SlicedOuterStepFailureTests() => _store = new DirectoryBlobStore(Path.Combine(_temp.Path, "blobs"));

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_slice_that_fails_for_good_fails_the_step_and_the_slices_the_others_stored_go()
    {
        var (parameters, delta) = await Inputs();
        var asked = new List<int>();
        var step = new SlicedOuterStep(_store, async (s, _, token) =>
        {
            lock (asked)
                asked.Add(s.Slice);
            if (s.Slice == 2)
                return new SliceStepFailed(s.JobId, s.Slice, s.Attempt, "delta 0 is damaged", Permanent: true);
            using var tensors = new ParameterSet([new NamedTensor("w", ones(2, 2).Times(s.Slice))]);
            var stored = await SlicedBlobs.WriteSliceAsync(_store, tensors, $"{s.Attempt} parameters slice {s.Slice}", DeltaPrecision.Fp32, BlobDurability.Durable, token);
            var velocity = await SlicedBlobs.WriteSliceAsync(_store, tensors, $"{s.Attempt} momentum slice {s.Slice}", DeltaPrecision.Fp32, BlobDurability.Durable, token);
            return new SliceStepped(s.JobId, s.Slice, s.Attempt, stored, velocity);
        }, _ => TimeSpan.FromSeconds(5));
        var before = BlobWrites.Stored(_store).Count;

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => step.Step(_spec, "attempt", parameters, null, [Result(delta)], TestContext.Current.CancellationToken));

        Assert.Equal("Slice 2 could not be stepped: delta 0 is damaged", error.Message);
        Assert.Equal([0, 1, 2], asked.Order());
        Assert.Equal(before, BlobWrites.Stored(_store).Count); // the four slices of slices 0 and 1 are gone
    }

    [Fact]
    public async Task An_owner_that_never_answers_is_asked_three_times_then_the_step_fails_naming_it()
    {
        var (parameters, delta) = await Inputs();
        var asks = 0;
        var timeouts = new List<TimeSpan>();
        var step = new SlicedOuterStep(_store, (s, timeout, _) =>
        {
            if (s.Slice != 1)
                return Task.FromResult<object>(new SliceStepped(s.JobId, s.Slice, s.Attempt, s.Parameters, null));
            Interlocked.Increment(ref asks);
            lock (timeouts)
                timeouts.Add(timeout);
            return Task.FromException<object>(new AskTimeoutException("no answer"));
        }, bytes => TimeSpan.FromSeconds(1) + TimeSpan.FromTicks(bytes));

        var error = await Assert.ThrowsAsync<TimeoutException>(() =>
            step.Step(_spec with { OuterMomentum = 0 }, "attempt", parameters, null, [Result(delta), Result(delta)], TestContext.Current.CancellationToken));

        Assert.Equal(SlicedOuterStep.AsksPerSlice, asks);
        Assert.Contains("slice 1 did not answer 3 times", error.Message, StringComparison.Ordinal);
        var slices = await SlicedBlobs.ReadIndexAsync(_store, delta, TestContext.Current.CancellationToken);
        var parameterSlices = await SlicedBlobs.ReadIndexAsync(_store, parameters, TestContext.Current.CancellationToken);
        // Waited for as long as the slice's transfers: two delta slices, and its parameter slice read and written.
        Assert.All(timeouts, t => Assert.Equal(TimeSpan.FromSeconds(1) + TimeSpan.FromTicks((2 * slices[1].Size) + (2 * parameterSlices[1].Size)), t));
    }

    [Fact]
    public async Task The_slice_of_an_owner_that_does_not_answer_is_stepped_by_the_coordinator_itself_bit_for_bit()
    {
        var token = TestContext.Current.CancellationToken;
        using var compute = new Moe.Model.Training.ComputeThread("test", intraOpThreads: 1);
        using var tensors = new ParameterSet(Enumerable.Range(0, 5).Select(k => new NamedTensor($"t{k}", randn(k + 2, 3))));
        using var change = new ParameterSet(tensors.Select(t => t with { Value = randn(t.Value.shape).Times(0.01) }));
        var central = _spec with { Slices = 0 };
        var (wholeParameters, wholeDelta) = (await Write(central, tensors, "parameters"), await Write(central, change, "delta"));
        var (parameters, delta) = (await Write(_spec, tensors, "parameters"), await Write(_spec, change, "delta"));
        var silent = 0;
        var step = new SlicedOuterStep(_store, async (s, _, t) =>
        {
            if (s.Slice == 1)
            {
                Interlocked.Increment(ref silent);
                throw new AskTimeoutException("its node died");
            }
            using var owner = new SliceStepWork(_store, compute);
            return await owner.Step(s, t);
        }, _ => TimeSpan.FromSeconds(5), here: compute);

        var (sliced, slicedMomentum) = await step.Step(_spec, "attempt", parameters, null, [Result(delta)], token);

        Assert.Equal(1, silent); // asked once, then stepped here
        using var work = new OuterStepWork(_store, handoff: null);
        var (expected, expectedMomentum) = await work.Step(central, "attempt", wholeParameters, null, [Result(wholeDelta)], localReaders: 0, token);
        foreach (var (whole, index) in new[] { (expected, sliced), (expectedMomentum!, slicedMomentum!) })
        {
            using var a = await ParameterBlobs.ReadAsync(_store, central, whole, "central", token);
            using var b = await ParameterBlobs.ReadAsync(_store, _spec, index, "sliced", token);
            Assert.All(a.Zip(b), p => Assert.True(p.Item1.Value.bytes.SequenceEqual(p.Item2.Value.bytes), p.Item1.Name));
        }
    }

    [Fact]
    public async Task A_slice_whose_owner_was_silent_is_stepped_here_at_once_while_its_owner_is_asked_again()
    {
        var token = TestContext.Current.CancellationToken;
        using var compute = new Moe.Model.Training.ComputeThread("test", intraOpThreads: 1);
        var (parameters, delta) = await Inputs();
        var calls = 0;
        var probe = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var step = new SlicedOuterStep(_store, async (s, _, t) =>
        {
            if (s.Slice == 1 && Interlocked.Increment(ref calls) == 1)
                throw new AskTimeoutException("its node died");
            if (s.Slice == 1)
                await probe.Task; // still silent while the round goes on
            using var owner = new SliceStepWork(_store, compute);
            return await owner.Step(s, t);
        }, _ => TimeSpan.FromSeconds(5), here: compute);

        var first = await step.Step(_spec, "first", parameters, null, [Result(delta)], token);
        var second = await step.Step(_spec, "second", first.Parameters, first.Momentum, [Result(delta)], token);

        Assert.Equal(2, calls); // asked again in the second round, which did not wait for it
        Assert.False(probe.Task.IsCompleted);
        Assert.Equal(3, (await SlicedBlobs.ReadIndexAsync(_store, second.Parameters, token)).Count);
        probe.SetResult();
    }

    private Task<BlobRef> Write(JobSpec spec, ParameterSet tensors, string tag) =>
        ParameterBlobs.WriteAsync(_store, spec, tensors, tag, DeltaPrecision.Fp32, BlobDurability.Durable, TestContext.Current.CancellationToken);

    private async Task<(BlobRef Parameters, BlobRef Delta)> Inputs()
    {
        using var tensors = new ParameterSet(Enumerable.Range(0, 5).Select(k => new NamedTensor($"t{k}", ones(k + 2, 3))));
        var token = TestContext.Current.CancellationToken;
        return (await ParameterBlobs.WriteAsync(_store, _spec, tensors, "parameters", DeltaPrecision.Fp32, BlobDurability.Durable, token),
            await ParameterBlobs.WriteAsync(_store, _spec, tensors, "delta", DeltaPrecision.Fp32, BlobDurability.Transient, token));
    }

    private static RoundResult Result(BlobRef delta) => new("job", 0, "attempt", 0, delta, new PartStats("t", 0, 0, 0, 0, 0, [], 0));
}
