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

    /// <summary>The job as a status answer, with the trainers that are <paramref name="members"/> now.</summary>
    public JobStatus Status(string[] members)
    {
        if (Spec is null)
            return JobStatus.None with { Members = members };
        var last = LastRound;
        return new JobStatus(Spec.JobId, CommittedRounds, Spec.Rounds, Finished, Parameters, members,
            last?.Contributors ?? [], last?.MeanLoss ?? double.NaN, last?.Tokens ?? 0, last?.Seconds ?? double.NaN, last?.WorstMaxVio ?? double.NaN);
    }

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
