using Akka.Actor;
using Moe.Actors.Balancing;
using Moe.Actors.Blobs;
using Moe.Actors.Tests.Support;
using Moe.Actors.Training;
using Moe.Model.Network;
using Moe.Model.Training.Rounds;
using Moe.Testing;

namespace Moe.Actors.Tests.Training;

[Trait("Category", "Integration")]
public sealed class SingleNodeTrainingTests : IDisposable
{
    private readonly TempDirectory _data = new();

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task Two_start_requests_at_once_both_get_the_job_rather_than_a_refusal()
    {
        var text = SampleText.Write(_data.Path);
        await using var node = await ClusterNode.StartAsync(ClusterNode.Settings(Path.Combine(_data.Path, "node")), cancellation: TestContext.Current.CancellationToken);
        var coordinator = node.Registry.Get<TrainingCoordinatorKey>();
        var spec = new JobSpec { JobId = "twice", Preset = "tiny", TextPath = text, Rounds = 1, InnerSteps = 1 };
        await ClusterWait.ForStatus(coordinator, _ => true, TimeSpan.FromSeconds(30)); // the singleton answers

        // As two coordinator pods do when a cluster starts: the second request arrives while the job is created.
        var first = coordinator.Ask<IMoeMessage>(new StartJob(spec), TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        var second = coordinator.Ask<IMoeMessage>(new StartJob(spec), TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.IsType<JobStatus>(await first);
        Assert.IsType<JobStatus>(await second);
    }

    [Fact]
    public async Task With_one_trainer_overlapped_rounds_handed_over_in_memory_train_as_rounds_one_after_the_other_through_the_store_do()
    {
        var text = SampleText.Write(_data.Path);
        var spec = new JobSpec { JobId = "overlap", Preset = "tiny", TextPath = text, Rounds = 4, InnerSteps = 3, RoundTimeout = TimeSpan.FromSeconds(60) };

        var (sequential, readFromStore) = await Train(spec with { OverlapSteps = 0 }, "sequential", handoff: false);
        var (overlapped, handedOver) = await Train(spec, "overlapped", handoff: true);

        // Every delta went to the coordinator in memory, and every round's parameters but the last to the trainer.
        Assert.Equal(0, readFromStore);
        Assert.Equal((2 * spec.Rounds) - 1, handedOver);

        // Round times run commit to commit when rounds overlap, so they add up to the job's time either way.
        foreach (var rounds in new[] { sequential, overlapped })
        {
            var elapsed = (rounds[^1].CommittedAt - rounds[0].CommittedAt).TotalSeconds + rounds[0].Seconds;
            Assert.InRange(rounds.Sum(r => r.Seconds), 0.8 * elapsed, elapsed + 1e-6);
        }
        // With one trainer and plain averaging the new global parameters are where the trainer ended, so going on
        // from there and rebasing changes nothing but rounding (and when each step saw the balancers' q).
        for (var r = 0; r < spec.Rounds; r++)
            Assert.True(Math.Abs(overlapped[r].MeanLoss - sequential[r].MeanLoss) < 1e-3 * sequential[r].MeanLoss,
                $"round {r}: loss {overlapped[r].MeanLoss:F5} overlapped, {sequential[r].MeanLoss:F5} one after the other");
    }

    private async Task<(IReadOnlyList<RoundCommittedEvent> Rounds, long HandedOver)> Train(JobSpec spec, string name, bool handoff)
    {
        var settings = ClusterNode.Settings(Path.Combine(_data.Path, name));
        await using var node = await ClusterNode.StartAsync(settings with { Blobs = settings.Blobs with { LocalHandoff = handoff } });
        var coordinator = node.Registry.Get<TrainingCoordinatorKey>();
        await ClusterWait.ForStatus(coordinator, _ => true, TimeSpan.FromSeconds(30));
        await coordinator.Ask<JobStatus>(new StartJob(spec), TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        await ClusterWait.ForStatus(coordinator, s => s.Finished, TimeSpan.FromSeconds(60));
        var history = await JobHistory.ReadAsync(node.System, TestContext.Current.CancellationToken);
        return (history!.Rounds, TensorHandoff.For(node.System).Served);
    }

    [Fact]
    public async Task One_node_with_every_role_trains_the_tiny_preset_through_all_rounds()
    {
        var text = SampleText.Write(_data.Path);
        await using var node = await ClusterNode.StartAsync(ClusterNode.Settings(Path.Combine(_data.Path, "node")), cancellation: TestContext.Current.CancellationToken);
        var coordinator = node.Registry.Get<TrainingCoordinatorKey>();
        Assert.True(node.Registry.TryGet<TrainersKey>(out var trainer), "no trainer actor");
        var identity = await node.System.ActorSelection(trainer.Path).Ask<ActorIdentity>(new Identify(1), TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
        Assert.NotNull(identity.Subject);
        var spec = new JobSpec { JobId = "solo", Preset = "tiny", TextPath = text, Rounds = 3, InnerSteps = 2, RoundTimeout = TimeSpan.FromSeconds(60) };

        var started = await coordinator.Ask<JobStatus>(new StartJob(spec), TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        var finished = await ClusterWait.ForStatus(coordinator, s => s.Finished, TimeSpan.FromSeconds(40));

        Assert.Equal(0, started.CommittedRounds);
        Assert.Equal(3, finished.CommittedRounds);
        Assert.Single(finished.LastContributors);
        Assert.True(double.IsFinite(finished.LastLoss) && finished.LastLoss > 0, $"loss {finished.LastLoss}");
        for (var layer = 0; layer < spec.MoeLayers; layer++)
        {
            var q = await node.Balancers.Ask<CurrentQ>(new GetQ("solo", layer), TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
            Assert.Equal(spec.Rounds * spec.InnerSteps - 1, q.Step); // one committed q per global step
        }

        // One job per cluster: the same job again is a resume, another job or a bad spec is refused with a reason.
        var again = await coordinator.Ask<JobStatus>(new StartJob(spec), TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        var other = await coordinator.Ask<JobRejected>(new StartJob(spec with { JobId = "other" }), TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        var invalid = await coordinator.Ask<JobRejected>(new StartJob(spec with { InnerSteps = 0 }), TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(3, again.CommittedRounds);
        Assert.Contains("\"solo\" is running", other.Reason, StringComparison.Ordinal);
        var changed = await coordinator.Ask<JobRejected>(new StartJob(spec with { Rounds = 4 }), TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Contains("exists with other settings", changed.Reason, StringComparison.Ordinal);
        Assert.True(finished.LastTokens > 0 && finished.LastRoundSeconds > 0 && finished.LastWorstMaxVio >= 0, finished.ToString());
        Assert.Contains("Job:InnerSteps = 0", invalid.Reason, StringComparison.Ordinal);

        // The checkpoint pointer names parameters that load into a fresh model of the job's shape.
        var store = new DirectoryBlobStore(Path.Combine(_data.Path, "node", "blobs"));
        var file = Path.Combine(_data.Path, "final.params");
        await store.GetAsync(finished.Parameters!, file, TestContext.Current.CancellationToken);
        using var model = new MoeTransformer(spec.Model);
        var tensors = ParameterFile.Load(file);
        ParameterFile.CopyInto(model, tensors);
        foreach (var (_, value) in tensors)
            value.Dispose();
    }
}
