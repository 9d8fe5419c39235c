using Moe.Actors.Blobs;

namespace Moe.Actors.Training;

/// <summary>Persisted: the job was accepted, with the blob of its initial parameters.</summary>
public sealed record JobStartedEvent(JobSpec Spec, BlobRef Parameters) : IMoeMessage;

/// <summary>
/// Persisted: the checkpoints after round <paramref name="ToRound"/> (-1: the job's start) could not be read back
/// (<paramref name="Problem"/> says why); the job goes on from that round, and the rounds after it run again.
/// </summary>
public sealed record RoundsRolledBackEvent(int ToRound, string Problem) : IMoeMessage;

/// <summary>
/// Persisted: round <paramref name="Round"/> committed. Its parameters and outer momentum are the checkpoint (a job
/// with outer momentum 0 keeps none); the shard plan says which data is done; the parts are what each contributing trainer measured, in trainer order.
/// Once written, the round is never lost, and the job's report is read from these events.
/// </summary>
/// <param name="Seconds">Wall time from the round's start to its commit.</param>
public sealed record RoundCommittedEvent(
    int Round,
    BlobRef Parameters,
    BlobRef? Momentum,
    ShardPlan Plan,
    PartStats[] Parts,
    DateTime CommittedAt,
    double Seconds) : IMoeMessage
{
    public string[] Contributors => [.. Parts.Select(p => p.TrainerId)];

    /// <summary>The newest global q the contributors had received: the routers' state of a model exported from this round.</summary>
    public GlobalQ? Q { get; init; }

    /// <summary>The stored vocabulary of the job's data (vocabulary.json), so any node can write the model folder.</summary>
    public BlobRef? Vocabulary { get; init; }

    public long Tokens => Parts.Sum(p => p.Tokens);

    /// <summary>The parts' mean loss; a part whose every step was skipped (NaN) has none to give.</summary>
    public double MeanLoss => Parts.Select(p => p.MeanLoss).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average();

    public double WorstMaxVio => Parts.Max(p => p.WorstMaxVio);

    /// <summary>The share of the trainers' time in this round spent waiting for global q (NaN when nothing was timed).</summary>
    public double WaitShare
    {
        get
        {
            var (step, wait) = (Parts.Sum(p => p.StepSeconds), Parts.Sum(p => p.WaitSeconds));
            return step + wait > 0 ? wait / (step + wait) : double.NaN;
        }
    }
}
