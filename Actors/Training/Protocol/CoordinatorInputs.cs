using Moe.Actors.Blobs;

namespace Moe.Actors.Training.Protocol;

/// <summary>What happens to the coordinator, as the round protocol sees it: messages, timers and finished work.</summary>
public interface ICoordinatorInput;

/// <summary>A trainer registered (or registered again from another actor).</summary>
public sealed record TrainerJoined(string TrainerId) : ICoordinatorInput;

/// <summary>A trainer stopped or its node left the cluster.</summary>
public sealed record TrainerLeft(string TrainerId) : ICoordinatorInput;

/// <summary>
/// The node of a trainer became unreachable. It leaves at once, as it would once downed (which takes longer): the
/// round and the balancers stop waiting for it, and new rounds go on without it. If the node comes back, its trainer
/// registers again and joins the next round.
/// </summary>
public sealed record TrainerUnreachable(string TrainerId) : ICoordinatorInput;

/// <summary>Every layer balancer of the job answered its configuration.</summary>
public sealed record BalancersReady : ICoordinatorInput
{
    public static BalancersReady Instance { get; } = new();
}

/// <summary>The coordinator's periodic timer.</summary>
public sealed record Tick : ICoordinatorInput
{
    public static Tick Instance { get; } = new();
}

public sealed record ResultReceived(RoundResult Result) : ICoordinatorInput;

public sealed record PartFailed(string TrainerId, string Attempt, string Reason) : ICoordinatorInput;

public sealed record RoundTimedOut(string Attempt) : ICoordinatorInput;

/// <summary>The outer step of the committing round stored its parameters and momentum.</summary>
public sealed record OuterStepDone(string Attempt, BlobRef Parameters, BlobRef? Momentum) : ICoordinatorInput;

/// <summary>The outer step of the committing round failed (a delta could not be read, the store failed).</summary>
public sealed record OuterStepFailed(string Attempt) : ICoordinatorInput;

/// <summary>The journal holds the job's start.</summary>
public sealed record JobPersisted(JobStartedEvent Event) : ICoordinatorInput;

/// <summary>The journal holds the round's commit.</summary>
public sealed record RoundPersisted(RoundCommittedEvent Event) : ICoordinatorInput;

/// <summary>The coordinator replayed its journal (it started, restarted or moved to another node).</summary>
public sealed record Recovered : ICoordinatorInput
{
    public static Recovered Instance { get; } = new();
}

/// <summary>
/// The kept checkpoints were read back: <paramref name="Round"/> is the newest whose blobs are whole (null: none),
/// <paramref name="Problem"/> what was wrong with the newer ones.
/// </summary>
public sealed record CheckpointsVerified(int? Round, string Problem) : ICoordinatorInput;

/// <summary>The check could not run (the store did not answer): it runs again at the next tick.</summary>
public sealed record VerificationFailed : ICoordinatorInput
{
    public static VerificationFailed Instance { get; } = new();
}

/// <summary>The journal holds the rollback to an earlier checkpoint.</summary>
public sealed record RollbackPersisted(RoundsRolledBackEvent Event) : ICoordinatorInput;
