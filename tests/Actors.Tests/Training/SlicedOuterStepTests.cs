using Akka.Actor;
using Akka.Cluster.Sharding;
using Moe.Actors.Blobs;
using Moe.Actors.Hosting;
using Moe.Actors.Tests.Support;
using Moe.Actors.Training;
using Moe.Actors.Training.Slices;
using Moe.Model.Devices;
using Moe.Model.Network;
using Moe.Model.Training;
using Moe.Model.Training.Rounds;
using Moe.Testing;
using static TorchSharp.torch;

namespace Moe.Actors.Tests.Training;

/// <summary>Slice owners on a real cluster node, each reading through a store the test can watch and hold up.</summary>
[Trait("Category", "Integration")]
public sealed class SlicedOuterStepTests : IAsyncLifetime
{
    private const int Slices = 3;
    private readonly TempDirectory _temp = new();
    private readonly JobSpec _sliced = new() { JobId = "sliced", Preset = "tiny", OuterLearningRate = 0.7, OuterMomentum = 0.9, Slices = Slices };
    private WatchedStore _store = null!;
    private ClusterNode _node = null!;
    private IActorRef _owners = null!;
    private ComputeThread _compute = null!;

    public async ValueTask InitializeAsync()
    {
        _store = new WatchedStore(new DirectoryBlobStore(Path.Combine(_temp.Path, "blobs")));
        _node = await ClusterNode.StartAsync(ClusterNode.Settings(Path.Combine(_temp.Path, "node")), cancellation: TestContext.Current.CancellationToken);
        _compute = new ComputeThread("test slices", intraOpThreads: 1);
        _owners = await ClusterSharding.Get(_node.System).StartAsync("watched-slices", id => OuterSlice.Props(id, _store, _compute),
            ClusterShardingSettings.Create(_node.System).WithRole(NodeRoles.Trainer), new OuterSliceHosting.SliceMessageExtractor());
    }

    public async ValueTask DisposeAsync()
    {
        await _node.DisposeAsync();
        _compute.Dispose();
        _temp.Dispose();
    }

    [Fact]
    public async Task Slice_owners_step_bit_for_bit_what_one_central_step_does_and_the_coordinator_reads_only_indexes()
    {
        var token = TestContext.Current.CancellationToken;
        using var initial = Initial();
        var central = _sliced with { Slices = 0 };
        var (p, m, sp, sm) = (await Write(central, initial), (BlobRef?)null, await Write(_sliced, initial), (BlobRef?)null);
        using var work = new OuterStepWork(_store, handoff: null);
        var read = new WatchedStore(_store); // the coordinator's own
        var coordinator = new SlicedOuterStep(read, _owners, _ => TimeSpan.FromSeconds(60));
        for (var round = 0; round < 2; round++) // the second round steps the momentum the first one stored
        {
            using var d1 = Delta(initial, seed: (2 * round) + 1);
            using var d2 = Delta(initial, seed: (2 * round) + 2);
            var centralResults = new[] { Result(await Write(central, d1), "a"), Result(await Write(central, d2), "b") };
            var slicedResults = new[] { Result(await Write(_sliced, d1), "a"), Result(await Write(_sliced, d2), "b") };

            (p, m) = await work.Step(central, $"attempt-{round}", p, m, centralResults, localReaders: 0, token);
            (sp, sm) = await coordinator.Step(_sliced, $"attempt-{round}", sp, sm, slicedResults, token);
            Assert.Equal(round == 0 ? 3 : 4, read.Reads.Count); // the indexes of the parameters, the momentum and two deltas
            Assert.All(read.Reads, r => Assert.True(r.Size < 1024, $"the coordinator read {r}"));
            read.Reads.Clear();
        }

        await AssertSame(central, p, sp, token);
        await AssertSame(central, m!, sm!, token);
    }

    [Fact]
    public async Task An_owner_that_dies_mid_step_has_its_slice_stepped_again_by_its_successor_and_only_that_slice()
    {
        var token = TestContext.Current.CancellationToken;
        var spec = _sliced;
        using var initial = Initial();
        var (p, sp) = (await Write(spec with { Slices = 0 }, initial), await Write(spec, initial));
        using var d1 = Delta(initial, seed: 1);
        var (whole, index) = (await Write(spec with { Slices = 0 }, d1), await Write(spec, d1));
        var deltaSlices = await SlicedBlobs.ReadIndexAsync(_store, index, token);
        var held = _store.HoldFirstRead(deltaSlices[1]);

        var step = new SlicedOuterStep(_store, _owners, _ => TimeSpan.FromSeconds(3)).Step(spec, "attempt", sp, null, [Result(index, "a")], token);
        await held.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30), token);
        var owner = await _node.System.ActorSelection($"/system/sharding/watched-slices/1/{spec.JobId}-1").ResolveOne(TimeSpan.FromSeconds(10), token);
        Assert.True(await owner.GracefulStop(TimeSpan.FromSeconds(10)), "the owner of slice 1 did not stop");
        held.Release(); // the dead owner's read goes on; what it stores is never asked for
        var (stepped, _) = await step.WaitAsync(TimeSpan.FromSeconds(60), token);

        List<BlobRef> reads;
        lock (_store.Reads)
            reads = [.. _store.Reads];
        Assert.Equal(2, reads.Count(r => r == deltaSlices[1]));
        Assert.Equal(1, reads.Count(r => r == deltaSlices[0]));
        Assert.Equal(1, reads.Count(r => r == deltaSlices[2]));
        using var work = new OuterStepWork(_store, handoff: null);
        var (central, _) = await work.Step(spec with { Slices = 0, OuterMomentum = 0.9 }, "attempt", p, null, [Result(whole, "a")], localReaders: 0, token);
        await AssertSame(spec with { Slices = 0 }, central, stepped, token);
    }

    private async Task AssertSame(JobSpec central, BlobRef whole, BlobRef index, CancellationToken token)
    {
        using var expected = await ParameterBlobs.ReadAsync(_store, central, whole, "central", token);
        using var actual = await ParameterBlobs.ReadAsync(_store, _sliced, index, "sliced", token);
        Assert.Equal(expected.Select(t => t.Name), actual.Select(t => t.Name));
        Assert.All(expected.Zip(actual), pair => Assert.True(pair.Item1.Value.bytes.SequenceEqual(pair.Item2.Value.bytes), pair.Item1.Name));
    }

    private ParameterSet Initial()
    {
        manual_seed(1);
        using var model = new MoeTransformer(_sliced.Model);
        return ParameterSet.Of(model);
    }

    private static ParameterSet Delta(ParameterSet like, int seed)
    {
        using var generator = new Generator((ulong)seed);
        return new ParameterSet(like.Select(p => p with { Value = randn(p.Value.shape, generator: generator).Times(0.01) }));
    }

    private Task<BlobRef> Write(JobSpec spec, ParameterSet tensors) =>
        ParameterBlobs.WriteAsync(_store, spec, tensors, $"test {Guid.NewGuid():N}", DeltaPrecision.Fp32, BlobDurability.Transient, CancellationToken.None);

    private static RoundResult Result(BlobRef delta, string trainer) =>
        new("sliced", 0, "attempt", 0, delta, new PartStats(trainer, 0, 0, 0, 0, 0, [], 0));
}
