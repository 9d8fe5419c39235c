using Akka.Actor;
using Akka.Persistence.TestKit;
using Moe.Actors.Hosting;
using Moe.Actors.Tests.Support;
using Moe.Actors.Training;
using Moe.Testing;

namespace Moe.Actors.Tests.Training;

[Trait("Category", "Integration")]
public sealed class CoordinatorJournalFailureTests
{
    [Fact]
    public async Task Failed_round_commits_stop_the_coordinator_which_restarts_from_its_journal_and_finishes_the_job()
    {
        using var data = new TempDirectory();
        var text = SampleText.Write(data.Path);
        await using var node = await ClusterNode.StartAsync(ClusterNode.Settings(Path.Combine(data.Path, "node")), TestJournals.Use, cancellation: TestContext.Current.CancellationToken);
        var journal = TestJournals.Of(node);
        var coordinator = node.Registry.Get<TrainingCoordinatorKey>();
        var spec = new JobSpec { JobId = "flaky", Preset = "tiny", TextPath = text, Rounds = 5, InnerSteps = 2, RoundTimeout = TimeSpan.FromSeconds(60) };

        // Armed before the job starts: rounds of tiny take about a second, so a job could finish before a
        // failure armed later got its chance.
        var failOnce = new FailFirstCommitOf(round: 1);
        await journal.OnWrite.SetInterceptorAsync(failOnce);
        await JobStart(coordinator, spec);
        await failOnce.Failed.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken); // the coordinator stops
        await journal.OnWrite.Pass();
        var finished = await ClusterWait.ForStatus(coordinator, s => s.Finished, TimeSpan.FromSeconds(90));
        var rounds = await Rounds(node);

        Assert.Equal(5, finished.CommittedRounds);
        Assert.Equal([0, 1, 2, 3, 4], rounds); // none lost, none twice
    }

    /// <summary>Fails the first write of round <paramref name="round"/>'s commit, and says when it did.</summary>
    private sealed class FailFirstCommitOf(int round) : IJournalInterceptor
    {
        private readonly TaskCompletionSource _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Failed => _failed.Task;

        public Task InterceptAsync(Akka.Persistence.IPersistentRepresentation message)
        {
            if (message.Payload is RoundCommittedEvent e && e.Round == round && _failed.TrySetResult())
                throw new TestJournalFailureException();
            return Task.CompletedTask;
        }
    }

    /// <summary>The rounds in the (in-memory) test journal, in order.</summary>
    private static async Task<int[]> Rounds(ClusterNode node)
    {
        var replayed = await node.System.ActorOf(Akka.Actor.Props.Create(() => new JournalReader(TrainingCoordinator.JournalId)))
            .Ask<object[]>("read", TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        return [.. JobHistory.From(replayed)!.Rounds.Select(r => r.Round)];
    }

    /// <summary>Replays a persistence id's events and answers them (the test journal has no query side).</summary>
    private sealed class JournalReader : Akka.Persistence.ReceivePersistentActor
    {
        private readonly List<object> _events = [];

        public JournalReader(string persistenceId)
        {
            PersistenceId = persistenceId;
            Recover<object>(e => _events.Add(e));
            Command<string>(_ => Sender.Tell(_events.ToArray()));
        }

        public override string PersistenceId { get; }
    }

    // The singleton may still be starting: ask until it answers.
    private static Task<JobStatus> JobStart(IActorRef coordinator, JobSpec spec) =>
        Eventually.Answer<JobStatus, AskTimeoutException>(
            () => coordinator.Ask<JobStatus>(new StartJob(spec), TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken),
            _ => true, TimeSpan.FromSeconds(30), "the coordinator to accept the job", TestContext.Current.CancellationToken);
}
