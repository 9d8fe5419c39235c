using System.Collections.Immutable;
using Moe.Actors.Blobs;
using Moe.Actors.Training;
using Moe.Actors.Training.Protocol;

namespace Moe.Actors.Tests.Training;

/// <summary>The coordinator's round protocol, decided without an actor system: inputs in, state and effects out.</summary>
public sealed class RoundProtocolTests
{
    private static readonly BlobRef Initial = Blob('0');
    private static readonly DateTime Start = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private static BlobRef Blob(char c) => BlobRef.Create(string.Concat(Enumerable.Repeat(((int)c).ToString("x2"), 32)), 100);

    private static JobSpec Spec(int quorum = 1, int rounds = 3, int overlap = 0) =>
        new JobSpec { JobId = "job", Preset = "tiny", Rounds = rounds, InnerSteps = 4, Quorum = quorum, OverlapSteps = overlap }.Resolve();

    /// <summary>Feeds inputs to the protocol one after the other, a second apart, and keeps the last decision's effects.</summary>
    private sealed class Driver
    {
        public RoundProtocolState State { get; set; } = RoundProtocolState.Start("test", keepRounds: 1);

        public ImmutableArray<ICoordinatorEffect> Effects { get; private set; } = [];

        public DateTime Now { get; private set; } = Start;

        public static Driver ForJob(JobSpec spec, params string[] trainers) => ForJob(spec, keepRounds: 1, trainers);

        public static Driver ForJob(JobSpec spec, int keepRounds, params string[] trainers)
        {
            var driver = new Driver { State = RoundProtocolState.Start("test", keepRounds) };
            driver.Send(new JobPersisted(new JobStartedEvent(spec, Initial)));
            foreach (var trainer in trainers)
                driver.Send(new TrainerJoined(trainer));
            return driver.Send(BalancersReady.Instance); // the first round starts with every trainer
        }

        public Driver Send(ICoordinatorInput input)
        {
            Now = Now.AddSeconds(1);
            var decision = RoundProtocol.Decide(State, input, Now);
            (State, Effects) = (decision.State, decision.Effects);
            return this;
        }

        public T Single<T>() => Assert.Single(Effects.OfType<T>());

        public IEnumerable<T> All<T>() => Effects.OfType<T>();

        public Round Running => State.Running ?? throw new InvalidOperationException("no round is running");

        public RoundResult Result(string trainer, char delta) =>
            new("job", Running.Number, Running.Attempt, Running.Assigned[trainer], Blob(delta), new PartStats(trainer, 10, 1.0, 1, 0, 0, [0.1], 0.2));

        /// <summary>The outer step of the committing round finished and its commit was persisted.</summary>
        public Driver Commit(char parameters)
        {
            Send(new OuterStepDone(State.Committing!.Attempt, Blob(parameters), null));
            return Send(new RoundPersisted(Single<PersistRound>().Event));
        }
    }

    [Fact]
    public void A_round_starts_only_once_the_job_its_balancers_and_a_quorum_of_trainers_are_there()
    {
        var driver = new Driver();
        driver.Send(new TrainerJoined("a")).Send(new TrainerJoined("b"));
        Assert.Null(driver.State.Running); // no job yet

        driver.Send(new JobPersisted(new JobStartedEvent(Spec(quorum: 3), Initial)));
        Assert.IsType<ConfigureBalancers>(driver.Effects.Single(e => e is ConfigureBalancers));
        driver.Send(Tick.Instance);
        Assert.Single(driver.All<ConfigureBalancers>()); // asked again until they answer
        driver.Send(BalancersReady.Instance);
        Assert.Null(driver.State.Running); // two trainers, quorum three

        driver.Send(new TrainerJoined("c"));
        var starts = driver.All<SendRoundStart>().ToList();
        Assert.Equal(["a", "b", "c"], starts.Select(s => s.TrainerId));
        Assert.All(starts, s => Assert.Equal((0, Initial, 3), (s.Start.Round, s.Start.Parameters, s.Start.Contributors)));
        Assert.Equal([0L, 1, 2], starts.Select(s => s.Start.Shard));
        Assert.Equal(driver.Running.Attempt, driver.Single<StartRoundTimer>().Attempt);
    }

    [Fact]
    public void A_trainer_that_joins_during_a_round_takes_part_from_the_next_one()
    {
        var driver = Driver.ForJob(Spec(), "a");
        driver.Send(new TrainerJoined("b"));
        Assert.Empty(driver.All<SendRoundStart>());
        Assert.Equal(["a"], driver.Running.Assigned.Keys);

        driver.Send(new ResultReceived(driver.Result("a", 'd')));
        Assert.Single(driver.All<RunOuterStep>());
        driver.Commit('p');

        Assert.Equal(["a", "b"], driver.All<SendRoundStart>().Select(s => s.TrainerId));
        Assert.All(driver.All<SendRoundStart>(), s => Assert.Equal((1, Blob('p')), (s.Start.Round, s.Start.Parameters)));
    }

    [Fact]
    public void A_round_commits_with_the_results_of_a_quorum_and_hands_the_dropped_trainers_shard_out_again()
    {
        var driver = Driver.ForJob(Spec(quorum: 1), "a", "b");
        var lostShard = driver.Running.Assigned["b"];
        driver.Send(new ResultReceived(driver.Result("a", 'd')));
        Assert.Empty(driver.All<RunOuterStep>()); // still waiting for b

        driver.Send(new TrainerLeft("b"));
        Assert.Equal(new ReleaseSteps("b", 0, 3), driver.Single<ReleaseSteps>()); // the balancers stop waiting for round 0's steps
        var step = driver.Single<RunOuterStep>();
        Assert.Equal(["a"], step.Results.Select(r => r.TrainerId));
        Assert.Equal(Initial, step.Parameters);
        driver.Send(new OuterStepDone(step.Attempt, Blob('p'), null));
        var committed = driver.Single<PersistRound>().Event;
        Assert.Contains(lostShard, committed.Plan.Returned);

        driver.Send(new RoundPersisted(committed));
        Assert.Equal(1, driver.Single<RoundCommitted>().CommittedRounds);
        Assert.Equal(lostShard, driver.Single<SendRoundStart>().Start.Shard); // a returned shard before any new one
        Assert.Equal([Blob('d'), Initial], driver.Single<DeleteBlobs>().Blobs); // the spent delta and the old parameters
    }

    [Fact]
    public void An_unreachable_trainer_leaves_at_once_its_steps_are_released_and_the_next_round_goes_on_without_it_until_it_registers_again()
    {
        var driver = Driver.ForJob(Spec(quorum: 1), "a", "b", "c");
        driver.Send(new ResultReceived(driver.Result("a", 'd')));
        driver.Send(new TrainerUnreachable("c"));
        Assert.Equal(new ReleaseSteps("c", 0, 3), driver.Single<ReleaseSteps>());
        driver.Send(new ResultReceived(driver.Result("b", 'e')));
        driver.Commit('p');

        Assert.Equal(["a", "b"], driver.All<SendRoundStart>().Select(s => s.TrainerId)); // round 1 without it
        Assert.All(driver.All<SendRoundStart>(), s => Assert.Equal(2, s.Start.Contributors));
        driver.Send(new TrainerUnreachable("c")); // already gone
        Assert.Empty(driver.All<ReleaseSteps>());
        driver.Send(new TrainerJoined("c")); // back: it joins the next round
        Assert.Contains("c", driver.State.Members);
    }

    [Fact]
    public void A_round_short_of_its_quorum_runs_again_and_its_deltas_go()
    {
        var driver = Driver.ForJob(Spec(quorum: 2), "a", "b");
        var attempt = driver.Running.Attempt;
        driver.Send(new ResultReceived(driver.Result("a", 'd')));
        driver.Send(new PartFailed("b", attempt, "out of memory"));

        Assert.Null(driver.State.Running);
        Assert.Empty(driver.All<RunOuterStep>());
        Assert.Equal([Blob('d')], driver.Single<DeleteBlobs>().Blobs);

        driver.Send(Tick.Instance).Send(new CheckpointsVerified(driver.Single<VerifyCheckpoints>().NewestFirst[0].Round, ""));
        Assert.Equal(0, driver.Running.Number);
        Assert.NotEqual(attempt, driver.Running.Attempt);
        Assert.Equal(2, driver.All<SendRoundStart>().Count());
    }

    [Fact]
    public void Results_and_failures_of_another_attempt_change_nothing()
    {
        var driver = Driver.ForJob(Spec(quorum: 2), "a", "b");
        var stale = driver.Result("a", 'd') with { Attempt = "earlier" };
        var before = driver.State;

        driver.Send(new ResultReceived(stale)).Send(new PartFailed("b", "earlier", "gone")).Send(new RoundTimedOut("earlier"));

        Assert.Equal(before.Running, driver.State.Running);
        Assert.Empty(driver.Effects.Where(e => e is not Log));
    }

    [Fact]
    public void A_timed_out_round_commits_with_whoever_finished()
    {
        var driver = Driver.ForJob(Spec(quorum: 1), "a", "b");
        driver.Send(new ResultReceived(driver.Result("b", 'd')));
        driver.Send(new RoundTimedOut(driver.Running.Attempt));

        Assert.Equal(["b"], driver.Single<RunOuterStep>().Results.Select(r => r.TrainerId));
        Assert.Contains(driver.Effects, e => e is Log { Level: LogLevel.Warning } l && l.Message.Contains("timed out waiting for a", StringComparison.Ordinal));
    }

    [Fact]
    public void With_overlap_the_next_round_starts_at_the_commit_and_gets_its_parameters_when_it_is_persisted()
    {
        var driver = Driver.ForJob(Spec(overlap: 1), "a");
        driver.Send(new ResultReceived(driver.Result("a", 'd')));
        var next = driver.Single<SendRoundStart>().Start;
        Assert.Equal((1, null), (next.Round, next.Parameters));

        driver.Commit('p');
        var parameters = driver.Single<SendRoundParameters>().Parameters;
        Assert.Equal((1, next.Attempt, Blob('p')), (parameters.Round, parameters.Attempt, parameters.Parameters));
        Assert.Empty(driver.All<SendRoundStart>()); // round 2 waits for round 1 to finish
    }

    [Fact]
    public void An_overlapped_round_that_finishes_first_commits_right_after_the_round_before()
    {
        var driver = Driver.ForJob(Spec(overlap: 1), "a");
        driver.Send(new ResultReceived(driver.Result("a", 'd')));
        driver.Send(new ResultReceived(driver.Result("a", 'e'))); // round 1 done while round 0 commits
        Assert.True(driver.Running.ReadyToCommit);
        Assert.Empty(driver.All<RunOuterStep>());

        driver.Commit('p');
        var step = driver.Single<RunOuterStep>();
        Assert.Equal((Blob('p'), Blob('e')), (step.Parameters, step.Results.Single().Delta));
        Assert.Equal(1, driver.State.Committing!.Number);
    }

    [Fact]
    public void A_failed_outer_step_runs_its_round_again_and_abandons_the_round_that_overlapped_it()
    {
        var driver = Driver.ForJob(Spec(overlap: 1), "a");
        driver.Send(new ResultReceived(driver.Result("a", 'd')));
        driver.Send(new ResultReceived(driver.Result("a", 'e')));
        driver.Send(new OuterStepFailed(driver.State.Committing!.Attempt));

        Assert.Null(driver.State.Committing);
        Assert.Null(driver.State.Running);
        Assert.Equal([[Blob('d')], [Blob('e')]], driver.All<DeleteBlobs>().Select(d => d.Blobs.ToArray()));
        driver.Send(Tick.Instance).Send(new CheckpointsVerified(-1, ""));
        Assert.Equal((0, Initial), (driver.Single<SendRoundStart>().Start.Round, driver.Single<SendRoundStart>().Start.Parameters));
    }

    [Fact]
    public void The_last_commit_announces_the_end_and_no_round_follows()
    {
        var driver = Driver.ForJob(Spec(rounds: 1), "a");
        driver.Send(new ResultReceived(driver.Result("a", 'd'))).Commit('p');

        Assert.Equal(new JobFinished("job", 1), driver.Single<AnnounceFinished>().Finished);
        Assert.True(driver.State.Journal.Finished);
        driver.Send(Tick.Instance);
        Assert.Empty(driver.All<SendRoundStart>());
    }

    [Fact]
    public void A_blob_that_the_committed_state_still_points_at_is_not_deleted()
    {
        // With one trainer and momentum, the first momentum can equal the delta (content addressing: one blob).
        var driver = Driver.ForJob(Spec(), "a");
        driver.Send(new ResultReceived(driver.Result("a", 'd')));
        driver.Send(new OuterStepDone(driver.State.Committing!.Attempt, Blob('p'), Blob('d')));
        driver.Send(new RoundPersisted(driver.Single<PersistRound>().Event));

        Assert.Equal([Initial], driver.Single<DeleteBlobs>().Blobs);
    }

    [Fact]
    public void Kept_checkpoints_are_deleted_only_once_they_fall_out_of_the_kept_rounds()
    {
        var driver = Driver.ForJob(Spec(rounds: 5), keepRounds: 2, "a");
        driver.Send(new ResultReceived(driver.Result("a", 'd'))).Commit('p');
        Assert.Equal([Blob('d')], driver.Single<DeleteBlobs>().Blobs); // the start's parameters are still kept

        driver.Send(new ResultReceived(driver.Result("a", 'e'))).Commit('q');
        Assert.Equal([Blob('e'), Initial], driver.Single<DeleteBlobs>().Blobs);
        Assert.Equal([1, 0], driver.State.Kept.Select(c => c.Round));
    }

    /// <summary>A coordinator that recovered a job with rounds 0 and 1 committed, keeping two checkpoints.</summary>
    private static Driver RecoveredJob(params string[] trainers) => RecoveredJob(waitSeconds: 0, trainers);

    /// <summary>The same, its trainers having waited <paramref name="waitSeconds"/> for q in each round's second of steps.</summary>
    private static Driver RecoveredJob(double waitSeconds, params string[] trainers)
    {
        var spec = Spec(rounds: 5);
        RoundCommittedEvent Round(int round, char parameters) =>
            new(round, Blob(parameters), null, new ShardPlan(round + 1, []), [new PartStats("a", 10, 1.0, 1, waitSeconds, 0, [0.1], 0.2)], Start.AddMinutes(round), 1);
        var journal = CoordinatorState.Empty.Apply(new JobStartedEvent(spec, Initial)).Apply(Round(0, 'p')).Apply(Round(1, 'q'));
        var driver = new Driver { State = RoundProtocolState.Start("test", keepRounds: 2) with { Journal = journal } };
        foreach (var trainer in trainers)
            driver.Send(new TrainerJoined(trainer));
        return driver.Send(BalancersReady.Instance);
    }

    [Theory]
    [InlineData(0.0, 2)] // never waited: the job's bound
    [InlineData(0.04, 2)] // 4 % of the time: within the budget
    [InlineData(0.5, 4)] // a third of the time, in each of two rounds: two steps more
    public void The_staleness_bound_a_round_starts_with_rises_by_one_after_each_round_whose_trainers_waited_for_q(double waitSeconds, int bound)
    {
        var driver = RecoveredJob(waitSeconds, "a");

        driver.Send(Recovered.Instance).Send(new CheckpointsVerified(1, ""));

        var start = driver.Single<SendRoundStart>().Start;
        Assert.Equal(bound, start.Spec.MaxStaleness);
        Assert.Equal(bound + 2, start.Spec.WindowLag);
    }

    [Fact]
    public void The_staleness_bound_stops_at_its_ceiling()
    {
        var spec = Spec(rounds: 50);
        var waited = Enumerable.Range(0, 20).Select(r => new RoundCommittedEvent(r, Initial, null, ShardPlan.Start,
            [new PartStats("a", 10, 1.0, StepSeconds: 1, WaitSeconds: 1, 0, [0.1], 0.2)], Start, 1));

        Assert.Equal(StalenessBound.Ceiling, StalenessBound.After(spec, waited));
        Assert.Equal(12, StalenessBound.After(spec with { MaxStaleness = 12 }, waited)); // a job's own larger bound stands
    }

    [Fact]
    public void A_recovered_job_starts_no_round_until_its_latest_checkpoint_reads_back()
    {
        var driver = RecoveredJob("a");
        Assert.Null(driver.State.Running);

        driver.Send(Recovered.Instance);
        Assert.Equal([1, 0], driver.Single<VerifyCheckpoints>().NewestFirst.Select(c => c.Round));
        driver.Send(Tick.Instance);
        Assert.Empty(driver.All<VerifyCheckpoints>()); // one check at a time

        driver.Send(new CheckpointsVerified(1, ""));
        Assert.Equal((2, Blob('q')), (driver.Single<SendRoundStart>().Start.Round, driver.Single<SendRoundStart>().Start.Parameters));
    }

    [Fact]
    public void A_damaged_latest_checkpoint_rolls_the_job_back_to_the_newest_that_reads_back()
    {
        var driver = RecoveredJob("a").Send(Recovered.Instance);

        driver.Send(new CheckpointsVerified(0, "round 1: parameters are damaged"));
        var rollback = driver.Single<PersistRollback>().Event;
        Assert.Equal((0, "round 1: parameters are damaged"), (rollback.ToRound, rollback.Problem));
        Assert.Null(driver.State.Running);

        driver.Send(new RollbackPersisted(rollback));
        Assert.Equal([Blob('q')], driver.Single<DeleteBlobs>().Blobs); // the abandoned checkpoint's blobs go
        var start = driver.Single<SendRoundStart>().Start;
        Assert.Equal((1, Blob('p'), 1L), (start.Round, start.Parameters, start.Shard)); // round 1 again, from round 0's checkpoint
        Assert.Contains(driver.Effects, e => e is Log { Level: LogLevel.Warning } l && l.Message.Contains("Resuming from round 0", StringComparison.Ordinal));
    }

    [Fact]
    public void A_job_with_no_checkpoint_that_reads_back_stops_and_says_why()
    {
        var driver = RecoveredJob("a").Send(Recovered.Instance);

        driver.Send(new CheckpointsVerified(null, "round 1: parameters abc is missing; round 0: parameters def is missing"));

        Assert.Contains("parameters abc is missing", driver.Single<FailJob>().Problem, StringComparison.Ordinal);
        driver.Send(Tick.Instance);
        Assert.Empty(driver.All<SendRoundStart>());
        Assert.Empty(driver.All<VerifyCheckpoints>());
        Assert.Contains("no kept checkpoint", driver.State.Journal.Status([], driver.State.Problem).Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_round_that_fails_below_quorum_runs_again_only_after_its_checkpoint_reads_back()
    {
        var driver = Driver.ForJob(Spec(rounds: 5), keepRounds: 2, "a");
        driver.Send(new ResultReceived(driver.Result("a", 'd'))).Commit('p');
        driver.Send(new ResultReceived(driver.Result("a", 'e'))).Commit('q');

        driver.Send(new PartFailed("a", driver.Running.Attempt, "blob q is damaged"));
        Assert.Empty(driver.All<SendRoundStart>());
        driver.Send(Tick.Instance);
        Assert.Equal([1, 0], driver.Single<VerifyCheckpoints>().NewestFirst.Select(c => c.Round));
        driver.Send(new CheckpointsVerified(0, "round 1: parameters q is damaged"));

        Assert.Equal(0, driver.Single<PersistRollback>().Event.ToRound); // mid-run, as after a restart
    }

    [Fact]
    public void A_failed_outer_step_checks_the_checkpoint_before_the_round_runs_again()
    {
        var driver = Driver.ForJob(Spec(rounds: 5), keepRounds: 2, "a");
        driver.Send(new ResultReceived(driver.Result("a", 'd')));
        driver.Send(new OuterStepFailed(driver.State.Committing!.Attempt));
        driver.Send(Tick.Instance);
        Assert.Equal([-1], driver.Single<VerifyCheckpoints>().NewestFirst.Select(c => c.Round));

        driver.Send(new CheckpointsVerified(-1, ""));

        Assert.Equal(0, driver.Single<SendRoundStart>().Start.Round);
    }
}
