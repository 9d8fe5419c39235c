using System.Threading.Channels;
using Akka.Actor;
using Akka.Persistence.TestKit;
using Moe.Actors.Blobs;
using Moe.Actors.Hosting;
using Moe.Actors.Tests.Support;
using Moe.Actors.Training;
using Moe.Model.Devices;
using Moe.Model.Training.Rounds;
using Moe.Testing;

namespace Moe.Actors.Tests.Training;

/// <summary>
/// The coordinator's side of overlapped rounds, with a scripted trainer: round r + 1 starts when round r's results
/// are in, before its commit, and its parameters follow the commit; a round that finishes before the one before it
/// committed waits for that commit.
/// </summary>
[Trait("Category", "Integration")]
public sealed class OverlappedRoundsTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _data = new();

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task The_next_round_starts_before_the_commit_and_a_round_done_early_waits_for_it()
    {
        var gate = new HoldCommitOf(round: 0);
        await using var node = await StartNode(gate);
        var spec = Spec();
        var trainer = ScriptedTrainer.Join(node, Store());
        var coordinator = await StartJob(node, spec);

        var round0 = await trainer.Next<RoundStart>();
        Assert.Equal((0, 0L, 1), (round0.Round, round0.Shard, round0.Contributors));
        await trainer.Finish(round0, round0.Parameters!);

        // Round 1 starts while round 0's commit is held, without parameters; its result waits for that commit.
        var round1 = await trainer.Next<RoundStart>();
        Assert.Equal((1, 1L, 1), (round1.Round, round1.Shard, round1.Contributors));
        Assert.Null(round1.Parameters);
        Assert.False(gate.Released);
        await trainer.Finish(round1, round0.Parameters!, share: 0.25f); // not round 0's delta: equal content is one blob

        // Round 1 is done but waits for round 0's commit: the first thing after the release is its parameters
        // (Next fails on anything else, such as a round 2 started early).
        gate.Release();
        var parameters1 = await trainer.Next<RoundParameters>();
        Assert.Equal((1, round1.Attempt), (parameters1.Round, parameters1.Attempt));
        // Round 1 then commits at once (its result was in), and round 2 overlaps its commit in turn.
        var round2 = await trainer.Next<RoundStart>();
        Assert.Equal((2, 2L), (round2.Round, round2.Shard));
        Assert.Null(round2.Parameters);
        var parameters2 = await trainer.Next<RoundParameters>();
        Assert.Equal(2, parameters2.Round);
        var expected = await OneOuterStep(parameters2.Parameters, parameters2.Parameters); // before the commit deletes them
        await trainer.Finish(round2, parameters2.Parameters);
        await trainer.Next<JobFinished>();

        var status = await Status(coordinator);
        Assert.Equal(3, status.CommittedRounds);
        Assert.NotEqual(parameters1.Parameters, parameters2.Parameters);
        Assert.Equal(expected, status.Parameters); // round 2 stepped from the parameters it was sent
    }

    [Fact]
    public async Task A_failed_commit_abandons_the_round_that_overlapped_it_and_both_run_again()
    {
        await using var node = await StartNode(gate: null);
        var trainer = ScriptedTrainer.Join(node, Store());
        var coordinator = await StartJob(node, Spec());

        var round0 = await trainer.Next<RoundStart>();
        // A delta the store does not hold: the outer step fails after round 1 has started.
        var missing = BlobRef.Create(new string('0', 64), 100);
        trainer.Report(new RoundResult(round0.Spec.JobId, 0, round0.Attempt, round0.Shard, missing, ScriptedTrainer.Stats));
        var overlapped = await trainer.Next<RoundStart>();
        Assert.Equal(1, overlapped.Round);
        Assert.Null(overlapped.Parameters);

        var again = await trainer.Next<RoundStart>(); // at the next tick
        Assert.Equal((0, round0.Parameters, round0.Shard), (again.Round, again.Parameters, again.Shard));
        Assert.NotEqual(round0.Attempt, again.Attempt);
        Assert.Equal(0, (await Status(coordinator)).CommittedRounds);
        await trainer.Finish(again, again.Parameters!);
        var round1 = await trainer.Next<RoundStart>();
        Assert.Equal((1, 1L), (round1.Round, round1.Shard)); // the abandoned round's shard is handed out again
        Assert.NotEqual(overlapped.Attempt, round1.Attempt);
        Assert.Equal(round1.Attempt, (await trainer.Next<RoundParameters>()).Attempt);
    }

    [Theory]
    [InlineData(0, 2)] // no overlap
    [InlineData(1, 1)] // rounds no longer than the overlap: H = 1 stays synchronous data parallelism
    public async Task Without_overlap_every_round_starts_from_committed_parameters(int overlapSteps, int innerSteps)
    {
        await using var node = await StartNode(gate: null);
        var trainer = ScriptedTrainer.Join(node, Store());
        var coordinator = await StartJob(node, Spec() with { OverlapSteps = overlapSteps, InnerSteps = innerSteps });

        var round0 = await trainer.Next<RoundStart>();
        await trainer.Finish(round0, round0.Parameters!);
        var round1 = await trainer.Next<RoundStart>();

        Assert.Equal(1, (await Status(coordinator)).CommittedRounds);
        Assert.Equal((await Status(coordinator)).Parameters, round1.Parameters);
        await trainer.Finish(round1, round1.Parameters!);
        var round2 = await trainer.Next<RoundStart>();
        Assert.NotNull(round2.Parameters);
        await trainer.Finish(round2, round2.Parameters);
        await trainer.Next<JobFinished>();
        Assert.False(trainer.Received<RoundParameters>());
    }

    private JobSpec Spec() => new()
    {
        JobId = "overlap",
        Preset = "tiny",
        TextPath = SampleText.Write(_data.Path),
        Rounds = 3,
        InnerSteps = 2,
        RoundTimeout = TimeSpan.FromSeconds(60),
    };

    private string NodeDirectory => Path.Combine(_data.Path, "node");

    // A coordinator and balancers, no trainer: the test plays the trainer.
    private async Task<ClusterNode> StartNode(HoldCommitOf? gate)
    {
        var node = await ClusterNode.StartAsync(ClusterNode.Settings(NodeDirectory, NodeRoles.Coordinator, NodeRoles.Balancer), TestJournals.Use);
        if (gate is not null)
            await TestJournals.Of(node).OnWrite.SetInterceptorAsync(gate);
        return node;
    }

    private static async Task<IActorRef> StartJob(ClusterNode node, JobSpec spec)
    {
        var coordinator = node.Registry.Get<TrainingCoordinatorKey>();
        await ClusterWait.ForStatus(coordinator, _ => true, Wait); // the singleton answers
        await coordinator.Ask<JobStatus>(new StartJob(spec), Wait, TestContext.Current.CancellationToken);
        return coordinator;
    }

    private static Task<JobStatus> Status(IActorRef coordinator) =>
        coordinator.Ask<JobStatus>(GetJobStatus.Instance, Wait, TestContext.Current.CancellationToken);

    // What the outer step (plain averaging) makes of the scripted trainer's delta.
    private async Task<BlobRef> OneOuterStep(BlobRef parameters, BlobRef deltaBase)
    {
        var store = Store();
        var delta = await ScriptedTrainer.DeltaOf(store, deltaBase);
        using var work = new OuterStepWork(store, handoff: null);
        var spec = Spec();
        RoundResult result = new(spec.JobId, 0, "attempt", 0, delta, ScriptedTrainer.Stats);
        return (await work.Step(spec, "attempt", parameters, null, [result], localReaders: 0, TestContext.Current.CancellationToken)).Parameters;
    }

    private DirectoryBlobStore Store() => new(Path.Combine(NodeDirectory, "blobs"));

    /// <summary>Holds the journal write of one round's commit until released.</summary>
    private sealed class HoldCommitOf(int round) : IJournalInterceptor
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Released => _release.Task.IsCompleted;

        public void Release() => _release.TrySetResult();

        public async Task InterceptAsync(Akka.Persistence.IPersistentRepresentation message)
        {
            if (message.Payload is RoundCommittedEvent e && e.Round == round)
                await _release.Task;
        }
    }

    /// <summary>An actor that registers as a trainer; the test reads what the coordinator sends it and answers for it.</summary>
    private sealed class ScriptedTrainer
    {
        private readonly Channel<object> _inbox = Channel.CreateUnbounded<object>();
        private readonly List<object> _seen = [];
        private readonly IActorRef _actor;
        private readonly IActorRef _coordinator;
        private readonly DirectoryBlobStore _store;

        private ScriptedTrainer(ClusterNode node, DirectoryBlobStore store)
        {
            _coordinator = node.Registry.Get<TrainingCoordinatorKey>();
            _store = store;
            _actor = node.System.ActorOf(Props.Create(() => new Relay(_inbox.Writer)));
        }

        public static ScriptedTrainer Join(ClusterNode node, DirectoryBlobStore store)
        {
            var trainer = new ScriptedTrainer(node, store);
            trainer._actor.Tell(new Relay.Send(trainer._coordinator, new RegisterTrainer("scripted")));
            return trainer;
        }

        public async Task<T> Next<T>()
        {
            while (true)
            {
                var message = await _inbox.Reader.ReadAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(Wait, TestContext.Current.CancellationToken);
                _seen.Add(message);
                if (message is T wanted)
                    return wanted;
                Assert.Fail($"Expected {typeof(T).Name}, got {message}.");
            }
        }

        public bool Received<T>()
        {
            while (_inbox.Reader.TryRead(out var message))
                _seen.Add(message);
            return _seen.OfType<T>().Any();
        }

        /// <summary>Reports the part done, with <see cref="DeltaOf"/> <paramref name="parameters"/> as its delta.</summary>
        public async Task Finish(RoundStart start, BlobRef parameters, float share = 0.5f)
        {
            var delta = await DeltaOf(_store, parameters, share);
            Report(new RoundResult(start.Spec.JobId, start.Round, start.Attempt, start.Shard, delta, Stats));
        }

        public static PartStats Stats { get; } = new("scripted", 64, 5.0, 0.1, 0, 0, [0.5], 0.5);

        public void Report(RoundResult result) => _actor.Tell(new Relay.Send(_coordinator, result));


        /// <summary>A delta that, averaged alone, adds <paramref name="share"/> x <paramref name="parameters"/> to the global parameters.</summary>
        public static Task<BlobRef> DeltaOf(DirectoryBlobStore store, BlobRef parameters, float share = 0.5f) =>
            store.ReadAsync(parameters, async (stream, token) =>
            {
                using var tensors = ParameterFile.Load(stream, "parameters");
                using var delta = new ParameterSet(tensors.Select(t => t with { Value = t.Value.Times(-share) }));
                return await store.WriteAsync((output, _) =>
                {
                    ParameterFile.Save(output, delta);
                    return Task.CompletedTask;
                }, BlobDurability.Transient, token);
            }, TestContext.Current.CancellationToken);

        private sealed class Relay : ReceiveActor
        {
            public Relay(ChannelWriter<object> inbox) =>
                ReceiveAny(message =>
                {
                    if (message is Send send)
                        send.To.Tell(send.Message, Self);
                    else
                        inbox.TryWrite(message);
                });

            public sealed record Send(IActorRef To, object Message);
        }
    }
}
