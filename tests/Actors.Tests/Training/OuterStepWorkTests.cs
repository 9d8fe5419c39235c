using Moe.Actors.Blobs;
using Moe.Actors.Tests.Support;
using Moe.Actors.Training;
using Moe.Model.Devices;
using Moe.Model.Training.Rounds;
using Moe.Testing;
using static TorchSharp.torch;

namespace Moe.Actors.Tests.Training;

public sealed class OuterStepWorkTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly WatchedStore _store;
    private readonly JobSpec _spec = new() { JobId = "outer", Preset = "tiny", OuterLearningRate = 0.7, OuterMomentum = 0.9 };

    public OuterStepWorkTests() => _store = new WatchedStore(new DirectoryBlobStore(Path.Combine(_temp.Path, "blobs")));

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Consecutive_steps_read_only_the_deltas_and_match_a_coordinator_that_reads_everything()
    {
        var token = TestContext.Current.CancellationToken;
        using var warm = new OuterStepWork(_store, handoff: null);
        var initial = (await warm.InitialParameters(_spec, token)).Parameters;
        var (d1, d2) = (await Delta(initial, seed: 1), await Delta(initial, seed: 2));

        _store.Reads.Clear();
        var (p1, m1) = await warm.Step(_spec, "attempt", initial, null, [Result(d1)], localReaders: 0, token);
        var (p2, m2) = await warm.Step(_spec, "attempt", p1, m1, [Result(d2)], localReaders: 0, token);

        Assert.Equal([d1, d2], _store.Reads); // the parameters and momentum it stored stayed in memory
        using var cold = new OuterStepWork(_store, handoff: null);
        _store.Reads.Clear();
        Assert.Equal((p2, m2), await cold.Step(_spec, "attempt", p1, m1, [Result(d2)], localReaders: 0, token)); // content-addressed: bit for bit
        Assert.Equal(3, _store.Reads.Count);
        Assert.Equal(new HashSet<BlobRef> { p1, m1!, d2 }, _store.Reads.ToHashSet());
    }

    [Fact]
    public async Task A_step_from_parameters_it_does_not_hold_reads_them_from_the_store()
    {
        var token = TestContext.Current.CancellationToken;
        using var warm = new OuterStepWork(_store, handoff: null);
        var initial = (await warm.InitialParameters(_spec, token)).Parameters;
        var delta = await Delta(initial, seed: 1);
        var (p1, _) = await warm.Step(_spec with { OuterMomentum = 0 }, "attempt", initial, null, [Result(delta)], localReaders: 0, token);

        // As after a round that did not commit: the journal still points at the initial parameters.
        _store.Reads.Clear();
        var again = await warm.Step(_spec with { OuterMomentum = 0 }, "attempt", initial, null, [Result(delta)], localReaders: 0, token);

        Assert.Equal((p1, (BlobRef?)null), again);
        Assert.Contains(initial, _store.Reads);
    }

    [Fact]
    public async Task Deltas_and_parameters_handed_over_on_the_node_skip_the_store_and_equal_what_it_holds()
    {
        var token = TestContext.Current.CancellationToken;
        using var handoff = new TensorHandoff();
        using var work = new OuterStepWork(_store, handoff);
        var initial = (await work.InitialParameters(_spec, token)).Parameters;
        var delta = await Delta(initial, seed: 1);
        handoff.OfferDelta("trainer", "attempt", await Load(delta)); // as a trainer on this node leaves it, unstored

        _store.Reads.Clear();
        var (parameters, _) = await work.Step(_spec, "attempt", initial, null, [Result(null, "trainer", "attempt")], localReaders: 2, token);

        Assert.Empty(_store.Reads);
        using var fromStore = new OuterStepWork(_store, handoff: null);
        Assert.Equal(parameters, (await fromStore.Step(_spec, "attempt", initial, null, [Result(delta)], localReaders: 0, token)).Parameters);
        var stored = await Load(parameters);
        foreach (var reader in new[] { "first", "last" })
        {
            var handed = handoff.Take(parameters) ?? throw new InvalidOperationException($"the {reader} reader found nothing");
            Assert.All(handed.Zip(stored), p => Assert.True(p.Item1.Value.bytes.SequenceEqual(p.Item2.Value.bytes), p.Item1.Name));
            handed.Dispose();
        }
        Assert.Null(handoff.Take(parameters)); // two readers were expected
        Assert.Equal(3, handoff.Served);
        stored.Dispose();
    }

    [Fact]
    public async Task A_step_averages_deltas_handed_over_on_the_node_with_deltas_from_the_store_as_if_all_came_from_the_store()
    {
        var token = TestContext.Current.CancellationToken;
        using var handoff = new TensorHandoff();
        using var mixed = new OuterStepWork(_store, handoff);
        var initial = (await mixed.InitialParameters(_spec, token)).Parameters;
        var (local, remote) = (await Delta(initial, seed: 1), await Delta(initial, seed: 2));
        handoff.OfferDelta("a", "attempt", await Load(local));

        var fromBoth = await mixed.Step(_spec, "attempt", initial, null, [Result(null, "a"), Result(remote, "b")], localReaders: 0, token);

        using var fromStore = new OuterStepWork(_store, handoff: null);
        Assert.Equal(fromBoth, await fromStore.Step(_spec, "attempt", initial, null, [Result(local, "a"), Result(remote, "b")], localReaders: 0, token));
    }

    [Fact]
    public async Task A_handed_over_delta_that_is_gone_fails_the_step_which_then_runs_again_from_the_same_parameters()
    {
        var token = TestContext.Current.CancellationToken;
        using var handoff = new TensorHandoff();
        using var work = new OuterStepWork(_store, handoff);
        var initial = (await work.InitialParameters(_spec with { OuterMomentum = 0 }, token)).Parameters;
        var delta = await Delta(initial, seed: 1);
        handoff.OfferDelta("trainer", "first attempt", await Load(delta));
        handoff.OfferDelta("trainer", "second attempt", await Load(delta)); // replaces the first in the trainer's slot

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            work.Step(_spec with { OuterMomentum = 0 }, "attempt", initial, null, [Result(null, "trainer", "first attempt")], localReaders: 0, token));
        var again = await work.Step(_spec with { OuterMomentum = 0 }, "attempt", initial, null, [Result(null, "trainer", "second attempt")], localReaders: 0, token);

        Assert.Contains("delta of trainer trainer for round 0 was handed over in memory on this node and is not there", failure.Message, StringComparison.Ordinal);
        using var fromStore = new OuterStepWork(_store, handoff: null);
        Assert.Equal(again, await fromStore.Step(_spec with { OuterMomentum = 0 }, "attempt", initial, null, [Result(delta)], localReaders: 0, token));
    }

    private static RoundResult Result(BlobRef? delta, string trainer = "trainer", string attempt = "attempt") =>
        new(JobId: "outer", Round: 0, attempt, Shard: 0, delta, new PartStats(trainer, 0, 0, 0, 0, 0, [], 0));

    private Task<ParameterSet> Load(BlobRef blob) =>
        _store.ReadAsync(blob, (s, _) => Task.FromResult(ParameterFile.Load(s, blob.ToString())), CancellationToken.None);

    /// <summary>A trainer's delta: small seeded noise in the shape of the parameters.</summary>
    private async Task<BlobRef> Delta(BlobRef parameters, int seed)
    {
        using var global = await _store.ReadAsync(parameters, (s, _) => Task.FromResult(ParameterFile.Load(s, "global")), CancellationToken.None);
        var generator = new TorchSharp.torch.Generator((ulong)seed);
        using var delta = new ParameterSet(global.Select(p => p with { Value = randn(p.Value.shape, generator: generator).Times(0.01) }));
        try
        {
            return await _store.WriteAsync((s, _) => { ParameterFile.Save(s, delta); return Task.CompletedTask; }, BlobDurability.Transient, CancellationToken.None);
        }
        finally
        {
            generator.Dispose();
        }
    }
}
