using Akka.Actor;
using Akka.Persistence.TestKit;
using Moe.Actors.Balancing;
using Moe.Actors.Tests.Support;
using Moe.Testing;

namespace Moe.Actors.Tests.Balancing;

[Trait("Category", "Integration")]
public sealed class JournalFailureTests
{
    [Fact]
    public async Task A_failing_journal_stops_the_balancer_which_backs_off_restarts_and_keeps_its_acknowledged_q()
    {
        using var data = new TempDirectory();
        await using var node = await ClusterNode.StartAsync(ClusterNode.Settings(data.Path), TestJournals.Use, cancellation: TestContext.Current.CancellationToken);
        var journal = TestJournals.Of(node);
        await LayerBalancerTests.Configure(node, "flaky", 0);
        Send(node, "flaky", step: 0, seed: 1);
        var acknowledged = await LayerBalancerTests.WaitForStep(node, "flaky", 0, 0);

        await journal.OnWrite.Fail();
        Send(node, "flaky", step: 1, seed: 2); // merged, then the write fails: the balancer stops, the supervisor backs off
        // A new incarnation has accepted nothing yet: that is the sign the failed one was replaced.
        await Eventually.Until(async () => (await AskWithRetry<BalancerStatus>(node, new GetBalancerStatus("flaky", 0))).Accepted == 0,
            TimeSpan.FromSeconds(20), "the balancer to restart after the failed write", cancellation: TestContext.Current.CancellationToken);
        await journal.OnWrite.Pass();
        var afterRestart = await AskWithRetry<CurrentQ>(node, new GetQ("flaky", 0));

        Assert.Equal(0, afterRestart.Step); // step 1 was never acknowledged, so it is not there
        Assert.Equal(acknowledged.Q, afterRestart.Q);

        Send(node, "flaky", step: 1, seed: 3); // the trainers go on; the restarted balancer commits again
        var next = await LayerBalancerTests.WaitForStep(node, "flaky", 0, 1);
        Assert.Equal(1, next.Step);
    }

    private static void Send(ClusterNode node, string job, long step, int seed)
    {
        using var scores = Summaries.Scores(256, Summaries.Spec.Experts, seed);
        foreach (var summary in Summaries.Split(job, 0, step, scores, 2, Summaries.Spec))
            node.Balancers.Tell(summary);
    }

    /// <summary>While the supervisor backs off, messages to the stopped balancer are dropped: ask again.</summary>
    private static Task<T> AskWithRetry<T>(ClusterNode node, IBalancerCommand query) =>
        Eventually.Answer<T, AskTimeoutException>(() => node.Balancers.Ask<T>(query, TimeSpan.FromMilliseconds(500), TestContext.Current.CancellationToken),
            _ => true, TimeSpan.FromSeconds(30), "the balancer to answer", TestContext.Current.CancellationToken);
}
