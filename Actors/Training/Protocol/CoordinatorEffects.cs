using System.Collections.Immutable;
using Moe.Actors.Blobs;

namespace Moe.Actors.Training.Protocol;

/// <summary>What the round protocol asks of the coordinator actor, which only sends, schedules, persists and runs work.</summary>
public interface ICoordinatorEffect;

public sealed record SendRoundStart(string TrainerId, RoundStart Start) : ICoordinatorEffect;

public sealed record SendRoundParameters(string TrainerId, RoundParameters Parameters) : ICoordinatorEffect;

/// <summary>Tell every member that the job is done.</summary>
public sealed record AnnounceFinished(JobFinished Finished) : ICoordinatorEffect;

/// <summary>Ask every layer balancer of the job to configure itself; <see cref="BalancersReady"/> follows.</summary>
public sealed record ConfigureBalancers(JobSpec Spec) : ICoordinatorEffect;

/// <summary>
/// Tell every layer balancer of the job that the trainer sends no summary for these steps (inclusive), so they close
/// on the trainers that remain.
/// </summary>
public sealed record ReleaseSteps(string TrainerId, long FromStep, long ToStep) : ICoordinatorEffect;

/// <summary>The running round times out with <see cref="RoundTimedOut"/> after this long (replacing any earlier timer).</summary>
public sealed record StartRoundTimer(string Attempt, TimeSpan After) : ICoordinatorEffect;

public sealed record CancelRoundTimer : ICoordinatorEffect
{
    public static CancelRoundTimer Instance { get; } = new();
}

/// <summary>Average the deltas, take the outer step, store the result; <see cref="OuterStepDone"/> or <see cref="OuterStepFailed"/> follows.</summary>
public sealed record RunOuterStep(string Attempt, JobSpec Spec, BlobRef Parameters, BlobRef? Momentum, ImmutableArray<RoundResult> Results) : ICoordinatorEffect;

/// <summary>Read back the blobs of these checkpoints, newest first, until one is whole; <see cref="CheckpointsVerified"/> follows.</summary>
public sealed record VerifyCheckpoints(ImmutableArray<Checkpoint> NewestFirst) : ICoordinatorEffect;

/// <summary>Write the rollback to the journal; <see cref="RollbackPersisted"/> follows.</summary>
public sealed record PersistRollback(RoundsRolledBackEvent Event) : ICoordinatorEffect;

/// <summary>The job cannot go on: say so where its status is read.</summary>
public sealed record FailJob(string Problem) : ICoordinatorEffect;

/// <summary>Write the round's commit to the journal; <see cref="RoundPersisted"/> follows.</summary>
public sealed record PersistRound(RoundCommittedEvent Event) : ICoordinatorEffect;

/// <summary>A round is committed: what metrics and the log say of it.</summary>
/// <param name="CheckpointSeconds">From the start of the outer step to the journal's acknowledgement.</param>
public sealed record RoundCommitted(RoundCommittedEvent Event, double CheckpointSeconds, int CommittedRounds) : ICoordinatorEffect;

/// <summary>Blobs nothing points at any more (best effort: one left behind costs disk, never correctness).</summary>
public sealed record DeleteBlobs(ImmutableArray<BlobRef> Blobs) : ICoordinatorEffect;

public enum LogLevel
{
    Info,
    Warning,
    Error,
}

public sealed record Log(LogLevel Level, string Message) : ICoordinatorEffect;
