using System.Collections.Immutable;

namespace Moe.Actors.Training.Protocol;

/// <summary>
/// Everything the coordinator knows: the job as its journal has it, and what lives only in memory (the members,
/// whether the balancers are configured, the round trainers are working on and the round being committed).
/// </summary>
/// <param name="Journal">The persisted part, rebuilt from the journal on recovery.</param>
/// <param name="Running">The round trainers are working on.</param>
/// <param name="Committing">The round whose outer step and journal write are under way.</param>
/// <param name="Incarnation">Tells this coordinator's round attempts from those of an earlier one.</param>
/// <param name="Attempts">Round attempts started so far by this incarnation.</param>
/// <param name="KeepRounds">Checkpoints whose blobs are kept: the latest and the ones before it, to go back to.</param>
public sealed record RoundProtocolState(
    CoordinatorState Journal,
    ImmutableSortedSet<string> Members,
    bool BalancersReady,
    Round? Running,
    Round? Committing,
    string Incarnation,
    int Attempts,
    int KeepRounds)
{
    public static RoundProtocolState Start(string incarnation, int keepRounds) =>
        new(CoordinatorState.Empty, ImmutableSortedSet.Create<string>(StringComparer.Ordinal), false, null, null, incarnation, 0, keepRounds);

    public JobSpec? Spec => Journal.Spec;

    /// <summary>The latest checkpoint reads back (a new job's, or a recovered one once checked): rounds may start.</summary>
    public bool Verified { get; init; }

    /// <summary>A check of the kept checkpoints is under way.</summary>
    public bool Verifying { get; init; }

    /// <summary>Why the job cannot go on; rounds no longer start.</summary>
    public string? Problem { get; init; }

    /// <summary>The checkpoints whose blobs are kept, newest first.</summary>
    public IEnumerable<Checkpoint> Kept => Journal.Checkpoints.TakeLast(KeepRounds).Reverse();
}
