using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Moe.Actors.Balancing;
using Moe.Actors.Hosting;
using Moe.Actors.Tests.Support;
using Moe.Model.Balancing;
using Moe.Testing;

namespace Moe.Actors.Tests.Balancing;

[Trait("Category", "Integration")]
public sealed class LayerBalancerTests : IDisposable
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);
    private readonly TempDirectory _data = new();

    public void Dispose() => _data.Dispose();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public async Task Any_split_of_the_same_tokens_gives_the_same_q_as_the_whole_batch(int trainers)
    {
        await using var node = await ClusterNode.StartAsync(ClusterNode.Settings(_data.Path), cancellation: TestContext.Current.CancellationToken);
        var job = $"split{trainers}";
        await Configure(node, job, 0);
        using var scores = Summaries.Scores(512, Summaries.Spec.Experts, seed: 7);

        foreach (var summary in Summaries.Split(job, 0, 0, scores, trainers, Summaries.Spec))
            node.Balancers.Tell(summary);
        var q = await WaitForStep(node, job, 0, 0);

        Assert.Equal(Summaries.WholeBatchQ(scores, Summaries.Spec), q.Q);
        Assert.Contains(q.Q, v => v > 0); // skewed scores: some experts must be priced
    }

    [Fact]
    public async Task A_configured_layer_is_snapshotted_before_its_first_step()
    {
        await using var node = await ClusterNode.StartAsync(ClusterNode.Settings(_data.Path), cancellation: TestContext.Current.CancellationToken);
        await Configure(node, "early", 2);
        var store = Akka.Persistence.Persistence.Instance.Apply(node.System).SnapshotStoreFor(null);

        // Saved in the background: the store's first write is slow, and no step should wait on it.
        BalancerSnapshot? snapshot = null;
        await Eventually.Until(async () =>
        {
            var result = await store.Ask<Akka.Persistence.LoadSnapshotResult>(new Akka.Persistence.LoadSnapshot(
                new LayerKey("early", 2).PersistenceId, Akka.Persistence.SnapshotSelectionCriteria.Latest, long.MaxValue), AskTimeout, TestContext.Current.CancellationToken);
            snapshot = result.Snapshot?.Snapshot as BalancerSnapshot;
            return snapshot is not null;
        }, AskTimeout, "the first snapshot", cancellation: TestContext.Current.CancellationToken);

        Assert.Equal(-1, snapshot!.Step);
        Assert.Equal(Summaries.Spec, snapshot.Spec);
    }

    [Fact]
    public async Task Summaries_from_another_node_are_merged_and_q_is_published_to_subscribers()
    {
        await using var seed = await ClusterNode.StartAsync(ClusterNode.Settings(_data.Path, NodeRoles.Balancer, NodeRoles.Coordinator), cancellation: TestContext.Current.CancellationToken);
        await using var trainer = await ClusterNode.StartAsync(
            ClusterNode.Settings(_data.Path, NodeRoles.Trainer) with { Seeds = [seed.Address] }, cancellation: TestContext.Current.CancellationToken);
        var subscriber = new TaskCompletionSource<QPublished>();
        var listener = trainer.System.ActorOf(Props.Create(() => new QListener("remote", subscriber)));
        await Configure(trainer, "remote", 1);
        var ack = await DistributedPubSub.Get(trainer.System).Mediator.Ask<SubscribeAck>(
            new Subscribe(BalancerTopics.For("remote"), listener), AskTimeout, TestContext.Current.CancellationToken);
        Assert.NotNull(ack);
        // The subscription reaches the balancer's node by gossip.
        var seedMediator = DistributedPubSub.Get(seed.System).Mediator;
        await Eventually.Until(async () => (await seedMediator.Ask<CurrentTopics>(GetTopics.Instance, AskTimeout, TestContext.Current.CancellationToken)).Topics.Contains(BalancerTopics.For("remote")),
            TimeSpan.FromSeconds(10), "the subscription to reach the balancer's node", cancellation: TestContext.Current.CancellationToken);

        using var scores = Summaries.Scores(256, Summaries.Spec.Experts, seed: 3);
        foreach (var summary in Summaries.Split("remote", 1, 0, scores, 2, Summaries.Spec))
            trainer.Balancers.Tell(summary);

        var published = await subscriber.Task.WaitAsync(AskTimeout, TestContext.Current.CancellationToken);
        Assert.Equal(Summaries.WholeBatchQ(scores, Summaries.Spec), published.Q);
        Assert.Equal(2, published.Contributors);
        Assert.Equal(256 * Summaries.Spec.TopK, published.Loads.Sum());
    }

    [Fact]
    public async Task Each_q_is_published_with_a_window_around_it_and_a_step_binned_with_that_window_reads_q_as_the_whole_batch()
    {
        await using var node = await ClusterNode.StartAsync(ClusterNode.Settings(_data.Path), cancellation: TestContext.Current.CancellationToken);
        var received = System.Threading.Channels.Channel.CreateUnbounded<QPublished>();
        var listener = node.System.ActorOf(Props.Create(() => new QListener("windowed", received.Writer)));
        await DistributedPubSub.Get(node.System).Mediator.Ask<SubscribeAck>(
            new Subscribe(BalancerTopics.For("windowed"), listener), AskTimeout, TestContext.Current.CancellationToken);
        await Configure(node, "windowed", 0);
        using var first = Summaries.Scores(600, Summaries.Spec.Experts, seed: 21);
        using var second = Summaries.Scores(600, Summaries.Spec.Experts, seed: 22);

        foreach (var summary in Summaries.Split("windowed", 0, 0, first, 3, Summaries.Spec))
            node.Balancers.Tell(summary);
        var step0 = await received.Reader.ReadAsync(TestContext.Current.CancellationToken);
        var window = step0.Window!;
        foreach (var summary in Summaries.Split("windowed", 0, 1, second, 3, Summaries.Spec, window))
            node.Balancers.Tell(summary);
        var step1 = await received.Reader.ReadAsync(TestContext.Current.CancellationToken);

        Assert.Equal(0, window.Step);
        for (var j = 0; j < Summaries.Spec.Experts; j++)
            Assert.True((window.Low[j] < step0.Q[j] && step0.Q[j] < window.High[j]) || step0.Q[j] == 0, $"expert {j}'s q {step0.Q[j]} lies outside its window");
        Assert.Equal(Summaries.WholeBatchQ(second, Summaries.Spec, window), step1.Q);
        Assert.Equal(1, step1.Window!.Step);
    }

    [Fact]
    public async Task A_step_closes_on_the_trainers_that_remain_once_the_missing_one_is_released_without_waiting_for_the_flush()
    {
        // A flush far beyond the test's patience: only the release can close the step.
        var settings = ClusterNode.Settings(_data.Path) with { Balancer = new BalancerSettings { FlushAfter = TimeSpan.FromMinutes(10), PendingWindow = 100 } };
        await using var node = await ClusterNode.StartAsync(settings, cancellation: TestContext.Current.CancellationToken);
        await Configure(node, "living", 0);
        using var scores = Summaries.Scores(300, Summaries.Spec.Experts, seed: 9);
        var parts = Summaries.Split("living", 0, 0, scores, 3, Summaries.Spec);
        var (alive, dead) = (parts[0].TrainerId, parts[2].TrainerId);

        node.Balancers.Tell(parts[0]);
        node.Balancers.Tell(parts[1]);
        var waiting = await Status(node, "living", 0);
        node.Balancers.Tell(new StepsReleased("living", 0, dead, 0, 3)); // dropped from the round: steps 0 to 3
        var q = await WaitForStep(node, "living", 0, 0);
        node.Balancers.Tell(parts[0] with { Step = 1 });
        node.Balancers.Tell(new StepsReleased("living", 0, alive, 1, 1)); // reported and released: counted once
        var stillWaiting = await Status(node, "living", 0);

        Assert.Equal((-1L, 1), (waiting.Step, waiting.PendingSteps));
        Assert.Equal(0, q.Step);
        Assert.Equal((0L, 1), (stillWaiting.Step, stillWaiting.PendingSteps)); // step 1 has 2 of 3 accounted for
    }

    [Fact]
    public async Task Duplicate_and_stale_summaries_change_nothing()
    {
        await using var node = await ClusterNode.StartAsync(ClusterNode.Settings(_data.Path), cancellation: TestContext.Current.CancellationToken);
        await Configure(node, "dup", 0);
        using var scores = Summaries.Scores(256, Summaries.Spec.Experts, seed: 11);
        var summaries = Summaries.Split("dup", 0, 0, scores, 2, Summaries.Spec);

        node.Balancers.Tell(summaries[0]);
        node.Balancers.Tell(summaries[0]); // duplicate while the step is pending
        node.Balancers.Tell(summaries[1]);
        var committed = await WaitForStep(node, "dup", 0, 0);
        var before = await Status(node, "dup", 0);

        using var other = Summaries.Scores(256, Summaries.Spec.Experts, seed: 12);
        foreach (var stale in Summaries.Split("dup", 0, 0, other, 2, Summaries.Spec))
            node.Balancers.Tell(stale); // step 0 is committed: stale
        var after = await Status(node, "dup", 0);
        var q = await node.Balancers.Ask<CurrentQ>(new GetQ("dup", 0), AskTimeout, TestContext.Current.CancellationToken);

        Assert.Equal(1, before.Ignored);
        Assert.Equal(3, after.Ignored);
        Assert.Equal(before.LastSequenceNr, after.LastSequenceNr);
        Assert.Equal(committed.Q, q.Q);
        Assert.Equal(0, q.Step);
    }

    public static TheoryData<string, string> MalformedCases => new()
    {
        { "loads-length", "loads has" },
        { "negative-load", "non-negative" },
        { "negative-count", "negative" },
        { "histogram-length", "indices but" },
        { "histogram-order", "out of order" },
        { "token-mismatch", "tokens" },
        { "unknown-job", "unknown job" },
        { "far-ahead", "too far ahead" },
        { "no-trainer", "trainer id" },
    };

    [Theory]
    [MemberData(nameof(MalformedCases))]
    public async Task Each_malformed_summary_is_rejected_with_a_reason_and_nothing_is_persisted(string problem, string reason)
    {
        await using var node = await ClusterNode.StartAsync(ClusterNode.Settings(_data.Path), cancellation: TestContext.Current.CancellationToken);
        await Configure(node, "bad", 0);
        var before = await Status(node, "bad", 0);
        using var scores = Summaries.Scores(128, Summaries.Spec.Experts, seed: 5);
        var good = Summaries.Split("bad", 0, 0, scores, 1, Summaries.Spec)[0];
        var indices = (int[])good.Histogram.Indices.Clone();
        var counts = (long[])good.Histogram.Counts.Clone();
        var bad = problem switch
        {
            "loads-length" => good with { Loads = good.Loads[1..] },
            "negative-load" => good with { Loads = [-1, .. good.Loads[1..]] },
            "negative-count" => good with { Histogram = new SparseCounts(indices, Bump(counts, 0, -good.Tokens - 1, 1, good.Tokens + 1)) },
            "histogram-length" => good with { Histogram = new SparseCounts(indices, counts[..^1]) },
            "histogram-order" => good with { Histogram = new SparseCounts([indices[1], indices[0], .. indices[2..]], counts) },
            "token-mismatch" => good with { Tokens = good.Tokens + 1 },
            "unknown-job" => good with { JobId = "never-started" },
            "far-ahead" => good with { Step = new BalancerSettings().MaxStepsAhead + 1 },
            "no-trainer" => good with { TrainerId = "" },
            _ => throw new ArgumentOutOfRangeException(nameof(problem)),
        };

        var rejected = await node.Balancers.Ask<CommandRejected>(bad, AskTimeout, TestContext.Current.CancellationToken);
        var after = await Status(node, "bad", 0);

        Assert.Contains(reason, rejected.Reason, StringComparison.OrdinalIgnoreCase);
        if (problem != "unknown-job")
            Assert.Equal(before.Rejected + 1, after.Rejected);
        Assert.Equal(before.LastSequenceNr, after.LastSequenceNr);
        Assert.Equal(0, after.PendingSteps);
    }

    [Fact]
    public async Task A_killed_and_restarted_node_recovers_the_last_acknowledged_q_bit_for_bit_from_sqlite()
    {
        var settings = ClusterNode.Settings(_data.Path) with { Balancer = new BalancerSettings { SnapshotEvery = 3 } };
        await RecoversAfterRestart(settings);
    }

    [Fact]
    public async Task A_killed_and_restarted_node_recovers_the_last_acknowledged_q_bit_for_bit_from_postgresql()
    {
        var connection = TestDatabases.PostgreSql();
        var settings = ClusterNode.Settings(_data.Path) with
        {
            Persistence = new PersistenceSettings { Provider = PersistenceProvider.PostgreSql, ConnectionString = connection },
            Balancer = new BalancerSettings { SnapshotEvery = 3 },
        };
        await RecoversAfterRestart(settings);
    }

    [Fact]
    public async Task A_snapshot_every_n_steps_replaces_the_events_and_snapshots_it_makes_obsolete()
    {
        var settings = ClusterNode.Settings(_data.Path) with { Balancer = new BalancerSettings { SnapshotEvery = 3 } };
        // Events: 1 configuration + 7 q. Snapshots after the 3rd and 6th q (sequence numbers 4 and 7); the events
        // and the older snapshot they replace are deleted once the snapshot is confirmed.
        await using var node = await ClusterNode.StartAsync(settings, cancellation: TestContext.Current.CancellationToken);
        await Configure(node, "snap", 0);
        for (var step = 0; step < 7; step++)
        {
            using var scores = Summaries.Scores(128, Summaries.Spec.Experts, seed: step);
            foreach (var summary in Summaries.Split("snap", 0, step, scores, 1, Summaries.Spec))
                node.Balancers.Tell(summary);
            await WaitForStep(node, "snap", 0, step);
        }

        using var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_data.Path, "cluster.db")}");
        db.Open();
        long Scalar(string sql)
        {
            using var command = db.CreateCommand();
            command.CommandText = sql;
            return command.ExecuteScalar() is { } value and not DBNull ? Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) : -1;
        }
        const string Id = "'layer-balancer/snap/0'";
        await Eventually.Until(() => Scalar($"select min(sequence_number) from journal where persistence_id = {Id} and deleted = 0") == 8
                                     && Scalar($"select count(*) from snapshot where persistence_id = {Id}") == 1,
            TimeSpan.FromSeconds(10), "the deletions that follow the second snapshot", cancellation: TestContext.Current.CancellationToken);
        Assert.Equal(7, Scalar($"select max(sequence_number) from snapshot where persistence_id = {Id}"));
    }

    private static async Task RecoversAfterRestart(NodeSettings settings)
    {
        var job = "restart-" + Guid.NewGuid().ToString("N")[..8];
        var node = await ClusterNode.StartAsync(settings);
        await Configure(node, job, 2);
        for (var step = 0; step < 7; step++)
        {
            using var scores = Summaries.Scores(256, Summaries.Spec.Experts, seed: 100 + step);
            foreach (var summary in Summaries.Split(job, 2, step, scores, 2, Summaries.Spec))
                node.Balancers.Tell(summary);
            await WaitForStep(node, job, 2, step);
        }
        var last = await node.Balancers.Ask<CurrentQ>(new GetQ(job, 2), AskTimeout, TestContext.Current.CancellationToken);
        await node.CrashAsync(); // no graceful stop: what was acknowledged must already be on disk

        await using var restarted = await ClusterNode.StartAsync(settings);
        var recovered = await restarted.Balancers.Ask<CurrentQ>(new GetQ(job, 2), AskTimeout, TestContext.Current.CancellationToken);

        Assert.Equal(6, recovered.Step);
        Assert.Equal(
            last.Q.Select(BitConverter.SingleToInt32Bits),
            recovered.Q.Select(BitConverter.SingleToInt32Bits));
    }

    internal static async Task Configure(ClusterNode node, string job, int layer)
    {
        var reply = await node.Balancers.Ask<CurrentQ>(
            new ConfigureLayer(job, layer, Summaries.Spec), AskTimeout, TestContext.Current.CancellationToken);
        Assert.Equal(-1, reply.Step);
    }

    internal static async Task<CurrentQ> WaitForStep(ClusterNode node, string job, int layer, long step)
    {
        var deadline = DateTime.UtcNow + AskTimeout;
        while (true)
        {
            var q = await node.Balancers.Ask<CurrentQ>(new GetQ(job, layer), AskTimeout, TestContext.Current.CancellationToken);
            if (q.Step >= step)
                return q;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Layer {layer} of {job} did not commit step {step}; it is at {q.Step}.");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    private static Task<BalancerStatus> Status(ClusterNode node, string job, int layer) =>
        node.Balancers.Ask<BalancerStatus>(new GetBalancerStatus(job, layer), AskTimeout, TestContext.Current.CancellationToken);

    private static long[] Bump(long[] counts, int first, long byFirst, int second, long bySecond)
    {
        counts[first] += byFirst;
        counts[second] += bySecond;
        return counts;
    }

    private sealed class QListener : ReceiveActor
    {
        public QListener(string job, TaskCompletionSource<QPublished> received) =>
            Receive<QPublished>(m => m.JobId == job, m => received.TrySetResult(m));

        public QListener(string job, System.Threading.Channels.ChannelWriter<QPublished> received) =>
            Receive<QPublished>(m => m.JobId == job, m => received.TryWrite(m));
    }
}
