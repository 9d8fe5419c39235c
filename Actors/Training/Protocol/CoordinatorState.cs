using System.Collections.Immutable;
using Moe.Actors.Blobs;

namespace Moe.Actors.Training.Protocol;

/// <summary>A point the job can go on from: the parameters and momentum after a round (round -1: the job's start).</summary>
public sealed record Checkpoint(int Round, BlobRef Parameters, BlobRef? Momentum, ShardPlan Plan, RoundCommittedEvent? Event);

/// <summary>What the coordinator persists and recovers: pure, rebuilt by applying events in order.</summary>
/// <param name="Checkpoints">Every committed round's checkpoint in order, the job's start first.</param>
public sealed record CoordinatorState(JobSpec? Spec, ImmutableList<Checkpoint> Checkpoints)
{
    public static CoordinatorState Empty { get; } = new(null, []);

    public Checkpoint? Latest => Checkpoints.IsEmpty ? null : Checkpoints[^1];

    public int CommittedRounds => (Latest?.Round ?? -1) + 1;

    public BlobRef? Parameters => Latest?.Parameters;

    public BlobRef? Momentum => Latest?.Momentum;

    public ShardPlan Plan => Latest?.Plan ?? ShardPlan.Start;

    public RoundCommittedEvent? LastRound => Latest?.Event;

    public bool Finished => Spec is not null && CommittedRounds >= Spec.Rounds;

    /// <summary>The job as a status answer, with the trainers that are <paramref name="members"/> now.</summary>
    public JobStatus Status(string[] members, string? problem)
    {
        if (Spec is null)
            return JobStatus.None with { Members = members };
        var last = LastRound;
        return new JobStatus(Spec.JobId, CommittedRounds, Spec.Rounds, Finished, Parameters, members,
            last?.Contributors ?? [], last?.MeanLoss ?? double.NaN, last?.Tokens ?? 0, last?.Seconds ?? double.NaN, last?.WorstMaxVio ?? double.NaN)
        {
            Problem = problem,
        };
    }

    public CoordinatorState Apply(object @event) => @event switch
    {
        JobStartedEvent e => this with { Spec = e.Spec, Checkpoints = [new Checkpoint(-1, e.Parameters, null, ShardPlan.Start, null)] },
        RoundCommittedEvent e => this with { Checkpoints = Checkpoints.Add(new Checkpoint(e.Round, e.Parameters, e.Momentum, e.Plan, e)) },
        RoundsRolledBackEvent e => this with { Checkpoints = [.. Checkpoints.Where(c => c.Round <= e.ToRound)] },
        _ => throw new ArgumentException($"Unknown coordinator event {@event.GetType().Name}.", nameof(@event)),
    };
}
