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
public sealed record RoundProtocolState(
    CoordinatorState Journal,
    ImmutableSortedSet<string> Members,
    bool BalancersReady,
    Round? Running,
    Round? Committing,
    string Incarnation,
    int Attempts)
{
    public static RoundProtocolState Start(string incarnation) =>
        new(CoordinatorState.Empty, ImmutableSortedSet.Create<string>(StringComparer.Ordinal), false, null, null, incarnation, 0);

    public JobSpec? Spec => Journal.Spec;
}
