using Moe.Actors.Blobs;

namespace Moe.Actors.Training.Protocol;

/// <summary>What the coordinator persists and recovers: pure, rebuilt by applying events in order.</summary>
public sealed record CoordinatorState(
    JobSpec? Spec,
    int CommittedRounds,
    BlobRef? Parameters,
    BlobRef? Momentum,
    ShardPlan Plan,
    RoundCommittedEvent? LastRound)
{
    public static CoordinatorState Empty { get; } = new(null, 0, null, null, ShardPlan.Start, null);

    public bool Finished => Spec is not null && CommittedRounds >= Spec.Rounds;

    public CoordinatorState Apply(object @event) => @event switch
    {
        JobStartedEvent e => this with { Spec = e.Spec, Parameters = e.Parameters },
        RoundCommittedEvent e => this with
        {
            CommittedRounds = e.Round + 1,
            Parameters = e.Parameters,
            Momentum = e.Momentum,
            Plan = e.Plan,
            LastRound = e,
        },
        _ => throw new ArgumentException($"Unknown coordinator event {@event.GetType().Name}.", nameof(@event)),
    };
}
