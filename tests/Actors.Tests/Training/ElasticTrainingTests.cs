using Akka.Actor;
using Moe.Actors.Balancing;
using Moe.Actors.Blobs;
using Moe.Actors.Hosting;
using Moe.Actors.Tests.Support;
using Moe.Actors.Training;
using Moe.Testing;

namespace Moe.Actors.Tests.Training;

/// <summary>
/// Several ActorSystems on loopback ports, sharing one database file and one blob directory as nodes on one
/// machine (or a shared volume) would.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ElasticTrainingTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(150);
    private readonly TempDirectory _data = new();
    private readonly string _text;

    public ElasticTrainingTests() => _text = SampleText.Write(_data.Path, sentences: 4000);

    public void Dispose() => _data.Dispose();

    private NodeSettings Node(string name, int seedPort, params string[] roles) => new()
    {
        Port = 0,
        DataDirectory = Path.Combine(_data.Path, name),
        Roles = roles,
        Seeds = seedPort == 0 ? [] : [$"127.0.0.1:{seedPort}"],
        Persistence = new PersistenceSettings { ConnectionString = $"Data Source={Path.Combine(_data.Path, "cluster.db")}" },
        Blobs = new BlobStoreSettings { Directory = Path.Combine(_data.Path, "blobs") },
        Trainer = new TrainerSettings { StalenessWait = TimeSpan.FromSeconds(2) },
    };

    private JobSpec Job(string id, int rounds) => new()
    {
        JobId = id,
        Preset = "tiny",
        TextPath = _text,
        Rounds = rounds,
        InnerSteps = 8,
        Quorum = 1,
        RoundTimeout = TimeSpan.FromSeconds(30),
    };

    [Fact]
    public async Task A_joining_trainer_contributes_from_the_next_round_and_a_killed_one_does_not_stop_the_job()
    {
        await using var seed = await ClusterNode.StartAsync(Node("seed", 0, NodeRoles.Coordinator, NodeRoles.Balancer), cancellation: TestContext.Current.CancellationToken);
        await using var first = await ClusterNode.StartAsync(Node("t1", seed.Port, NodeRoles.Trainer), cancellation: TestContext.Current.CancellationToken);
        await using var second = await ClusterNode.StartAsync(Node("t2", seed.Port, NodeRoles.Trainer), cancellation: TestContext.Current.CancellationToken);
        var coordinator = seed.Registry.Get<TrainingCoordinatorKey>();
        await ClusterWait.ForStatus(coordinator, _ => true, TimeSpan.FromSeconds(10));
        await Eventually.Until(() => Task.FromResult(Akka.Cluster.Cluster.Get(seed.System).State.Members
            .Count(m => m.Status == Akka.Cluster.MemberStatus.Up && m.HasRole(NodeRoles.Trainer)) == 2), TimeSpan.FromSeconds(30),
            "both trainer nodes up in the coordinator's view", TestContext.Current.CancellationToken);
        await coordinator.Ask<JobStatus>(new StartJob(Job("elastic", rounds: 14)), TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        var together = await ClusterWait.ForStatus(coordinator, s => s.LastContributors.Length == 2, Long);

        await using var third = await ClusterNode.StartAsync(Node("t3", seed.Port, NodeRoles.Trainer), cancellation: TestContext.Current.CancellationToken);
        var joined = await ClusterWait.ForStatus(coordinator, s => s.LastContributors.Length == 3, Long);

        await second.CrashAsync();
        var afterCrash = await ClusterWait.ForStatus(coordinator,
            s => s.CommittedRounds > joined.CommittedRounds + 1 && s.LastContributors.Length == 2, Long);
        var done = await ClusterWait.ForStatus(coordinator, s => s.Finished, Long);

        Assert.True(together.CommittedRounds >= 1);
        Assert.Contains(joined.LastContributors, t => t.StartsWith($"127.0.0.1:{third.Port}/", StringComparison.Ordinal));
        Assert.DoesNotContain(afterCrash.LastContributors, t => t.StartsWith($"127.0.0.1:{second.Port}/", StringComparison.Ordinal));
        Assert.Equal(14, done.CommittedRounds);
        Assert.True(double.IsFinite(done.LastLoss));
        // Two trainer nodes were up when the job started: two slice owners stepped it, and the crashed node's
        // owner moved to a node still up.
        var history = await JobHistory.ReadAsync(seed.System, TestContext.Current.CancellationToken);
        Assert.Equal(2, history!.Spec.Slices);
    }

    [Fact]
    public async Task When_the_coordinator_and_balancer_node_stops_both_recover_elsewhere_from_the_database()
    {
        var primary = await ClusterNode.StartAsync(Node("a", 0, NodeRoles.Coordinator, NodeRoles.Balancer), cancellation: TestContext.Current.CancellationToken);
        await using var standby = await ClusterNode.StartAsync(Node("b", primary.Port, NodeRoles.Coordinator, NodeRoles.Balancer), cancellation: TestContext.Current.CancellationToken);
        await using var trainer = await ClusterNode.StartAsync(Node("t", primary.Port, NodeRoles.Trainer), cancellation: TestContext.Current.CancellationToken);
        var coordinator = trainer.Registry.Get<TrainingCoordinatorKey>();
        var spec = Job("failover", rounds: 40);
        await ClusterWait.ForStatus(coordinator, _ => true, TimeSpan.FromSeconds(10));
        await coordinator.Ask<JobStatus>(new StartJob(spec), TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        await ClusterWait.ForStatus(coordinator, s => s.CommittedRounds >= 3, Long);

        var before = await coordinator.Ask<JobStatus>(GetJobStatus.Instance, TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        var qBefore = await trainer.Balancers.Ask<CurrentQ>(new GetQ("failover", 0), TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        await primary.DisposeAsync(); // SIGTERM: hand-over of the singleton and the shards to the standby

        var resumed = await ClusterWait.ForStatus(coordinator, s => s.JobId == "failover", Long);
        var qAfter = await AskUntilAnswered<CurrentQ>(trainer.Balancers, new GetQ("failover", 0));
        var done = await ClusterWait.ForStatus(coordinator, s => s.Finished, Long);

        Assert.True(resumed.CommittedRounds >= before.CommittedRounds, $"round {resumed.CommittedRounds} < {before.CommittedRounds}: a committed round was lost");
        Assert.True(qAfter.Step >= qBefore.Step, $"q recovered at step {qAfter.Step}, before the stop it was at {qBefore.Step}");
        Assert.Equal(spec.Rounds, done.CommittedRounds);
        var firstRecoveredQ = qAfter.Step == qBefore.Step ? qAfter.Q : null;
        if (firstRecoveredQ is not null)
            Assert.Equal(qBefore.Q, firstRecoveredQ);
    }

    [Fact]
    public async Task Trainers_without_a_shared_volume_train_through_the_coordinator_nodes_http_blob_store()
    {
        var blobPort = MoeNodeHost.FreePort();
        var coordinatorNode = Node("c", 0, NodeRoles.Coordinator, NodeRoles.Balancer) with
        {
            Blobs = new BlobStoreSettings { Directory = Path.Combine(_data.Path, "c", "blobs"), ServeUrl = $"http://127.0.0.1:{blobPort}" },
        };
        await using var seed = await ClusterNode.StartAsync(coordinatorNode, cancellation: TestContext.Current.CancellationToken);
        await using var trainer = await ClusterNode.StartAsync(Node("t", seed.Port, NodeRoles.Trainer) with
        {
            Blobs = new BlobStoreSettings { Kind = BlobStoreKind.Http, Url = new Uri($"http://127.0.0.1:{blobPort}") },
        }, cancellation: TestContext.Current.CancellationToken);
        var coordinator = seed.Registry.Get<TrainingCoordinatorKey>();
        await ClusterWait.ForStatus(coordinator, s => s.Members.Length == 1, TimeSpan.FromSeconds(20));

        await coordinator.Ask<JobStatus>(new StartJob(Job("http", rounds: 3)), TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        var done = await ClusterWait.ForStatus(coordinator, s => s.Finished, Long);

        Assert.Equal(3, done.CommittedRounds);
        Assert.True(File.Exists(new DirectoryBlobStore(Path.Combine(_data.Path, "c", "blobs")).PathOf(done.Parameters!)));
        Assert.False(Directory.Exists(Path.Combine(_data.Path, "t", "blobs"))); // the trainer stored nothing locally
    }

    private static Task<T> AskUntilAnswered<T>(IActorRef target, object message) =>
        Eventually.Answer<T, AskTimeoutException>(() => target.Ask<T>(message, TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken),
            _ => true, TimeSpan.FromSeconds(60), $"an answer to {message.GetType().Name}", TestContext.Current.CancellationToken);
}
