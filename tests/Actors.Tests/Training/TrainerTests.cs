using System.Threading.Channels;
using Akka.Actor;
using Moe.Actors.Blobs;
using Moe.Actors.Faults;
using Moe.Actors.Hosting;
using Moe.Actors.Tests.Support;
using Moe.Actors.Training;
using Moe.Model.Training.Rounds;
using Moe.Testing;

namespace Moe.Actors.Tests.Training;

[Trait("Category", "Integration")]
public sealed class TrainerTests : IDisposable
{
    private readonly TempDirectory _data = new();

    public void Dispose() => _data.Dispose();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_trainer_hands_its_delta_to_a_coordinator_on_its_node_in_memory_only_and_stores_it_otherwise(bool handoff)
    {
        var token = TestContext.Current.CancellationToken;
        var spec = new JobSpec { JobId = "delta", Preset = "tiny", TextPath = SampleText.Write(_data.Path), Rounds = 1, InnerSteps = 1 };
        await using var node = await ClusterNode.StartAsync(ClusterNode.Settings(Path.Combine(_data.Path, "node"), NodeRoles.Balancer), cancellation: TestContext.Current.CancellationToken);
        var store = new DirectoryBlobStore(Path.Combine(_data.Path, "blobs"));
        BlobRef parameters;
        using (var work = new OuterStepWork(store, handoff: null))
            parameters = (await work.InitialParameters(spec, token)).Parameters;
        var handed = handoff ? new TensorHandoff() : null;
        var inbox = Channel.CreateUnbounded<object>();
        var coordinator = node.System.ActorOf(Props.Create(() => new Inbox(inbox.Writer))); // on the trainer's node
        var setup = new TrainerSetup("t0", "cpu", new TrainerSettings { StalenessWait = TimeSpan.FromSeconds(1) }, 1, store, handed,
            Path.Combine(_data.Path, "cache"), new Moe.Observability.NodeMetrics(), new NodeFailures(10, _data.Path), _ => null);
        var trainer = node.System.ActorOf(Trainer.Props(setup, coordinator, node.Balancers));
        Assert.IsType<RegisterTrainer>(await inbox.Reader.ReadAsync(token));
        var filesBefore = BlobFiles(store);

        trainer.Tell(new RoundStart(spec, 0, "attempt-0", parameters, 0, 1), coordinator);
        var result = await NextResult(inbox.Reader).WaitAsync(TimeSpan.FromSeconds(60), token);

        if (handoff)
        {
            Assert.Null(result.Delta);
            var vocabulary = result.Vocabulary ?? throw new InvalidOperationException("a result carries the job's vocabulary");
            Assert.Equal([store.PathOf(vocabulary)], BlobFiles(store).Except(filesBefore)); // nothing written for the delta
            using var delta = handed!.TakeDelta("t0", "attempt-0") ?? throw new InvalidOperationException("the delta is not in the handoff");
            Assert.NotEmpty(delta);
        }
        else
        {
            var stored = result.Delta ?? throw new InvalidOperationException("a delta for a coordinator without a handoff must be stored");
            using var tensors = await store.ReadAsync(stored, (s, _) => Task.FromResult(ParameterFile.Load(s, "delta")), token);
            Assert.NotEmpty(tensors);
        }
        await trainer.GracefulStop(TimeSpan.FromSeconds(10));
        handed?.Dispose();
    }

    [Fact]
    public async Task A_trainer_whose_text_is_missing_reports_a_permanent_failure_of_the_input_and_the_round_fails()
    {
        var spec = new JobSpec { JobId = "missing", Preset = "tiny", TextPath = SampleText.Write(_data.Path), Rounds = 1, InnerSteps = 1 };

        var (failure, inbox) = await FirstRoundFails(spec, beforeRound: () => File.Delete(spec.TextPath!), memoryProblem: _ => null); // gone on this trainer's machine

        Assert.Equal(FailureKind.Input, failure.Kind);
        Assert.Contains("Trainer t0 in round 0 of job missing", failure.Message, StringComparison.Ordinal);
        Assert.Contains(spec.TextPath!, failure.Message, StringComparison.Ordinal);
        Assert.IsType<RoundFailed>(inbox[^1]);
    }

    [Fact]
    public async Task A_trainer_whose_device_cannot_hold_the_jobs_memory_plan_stops_its_node_with_the_numbers()
    {
        var spec = new JobSpec { JobId = "big", Preset = "tiny", TextPath = SampleText.Write(_data.Path), Rounds = 1, InnerSteps = 1 };
        string? TooSmall(JobSpec job) => MemoryFit.Check(Moe.Model.Training.MemoryPlan.For(job.Model, job.Training), [("cpu", 1)], coordinator: false, _ => (1L << 20, "test")).Problem;

        var (failure, _) = await FirstRoundFails(spec, beforeRound: () => { }, TooSmall);

        Assert.Equal(FailureKind.Input, failure.Kind);
        Assert.Contains("the job does not fit cpu: 1 trainer x", failure.Message, StringComparison.Ordinal);
        Assert.Contains("but it has 0.00 GiB (test)", failure.Message, StringComparison.Ordinal);
    }

    /// <summary>Starts a trainer on round 0 of <paramref name="spec"/> and waits for the permanent failure it reports.</summary>
    private async Task<(PermanentFailure Failure, List<object> Inbox)> FirstRoundFails(JobSpec spec, Action beforeRound, Func<JobSpec, string?> memoryProblem)
    {
        var token = TestContext.Current.CancellationToken;
        await using var node = await ClusterNode.StartAsync(ClusterNode.Settings(Path.Combine(_data.Path, "node"), NodeRoles.Balancer), cancellation: token);
        var store = new DirectoryBlobStore(Path.Combine(_data.Path, "blobs"));
        BlobRef parameters;
        using (var work = new OuterStepWork(store, handoff: null))
            parameters = (await work.InitialParameters(spec, token)).Parameters;
        beforeRound();
        var failures = new NodeFailures(10, _data.Path);
        var inbox = Channel.CreateUnbounded<object>();
        var coordinator = node.System.ActorOf(Props.Create(() => new Inbox(inbox.Writer)));
        var setup = new TrainerSetup("t0", "cpu", new TrainerSettings(), 1, store, null, Path.Combine(_data.Path, "cache"), new Moe.Observability.NodeMetrics(), failures, memoryProblem);
        var trainer = node.System.ActorOf(Trainer.Props(setup, coordinator, node.Balancers));

        trainer.Tell(new RoundStart(spec, 0, "attempt-0", parameters, 0, 1), coordinator);
        var failure = await failures.Stopped.WaitAsync(TimeSpan.FromSeconds(60), token);
        var received = new List<object>(); // up to the round's failure, which the coordinator hears of too
        do
        {
            received.Add(await inbox.Reader.ReadAsync(token).AsTask().WaitAsync(TimeSpan.FromSeconds(30), token));
        }
        while (received[^1] is not RoundFailed);
        await trainer.GracefulStop(TimeSpan.FromSeconds(10));
        return (failure, received);
    }

    private static string[] BlobFiles(DirectoryBlobStore store) =>
        [.. Directory.EnumerateFiles(store.Root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)];

    private static async Task<RoundResult> NextResult(ChannelReader<object> inbox)
    {
        while (true)
        {
            if (await inbox.ReadAsync(TestContext.Current.CancellationToken) is RoundResult result)
                return result;
        }
    }

    /// <summary>Stands in for the coordinator: what the trainer sends it goes to the test.</summary>
    private sealed class Inbox : ReceiveActor
    {
        public Inbox(ChannelWriter<object> messages) => ReceiveAny(m => messages.TryWrite(m));
    }
}
