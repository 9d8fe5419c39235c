using Moe.Actors.Blobs;

namespace Moe.Actors.Training;

/// <summary>
/// Starts a job, or resumes it when its id is sent again; answered with <see cref="JobStatus"/> or
/// <see cref="JobRejected"/>. A resume is refused only when a setting named in <paramref name="Explicit"/> (the ones
/// the user gave, of <see cref="JobSpec.SettingNames"/>) differs from the job's recorded one.
/// </summary>
public sealed record StartJob(JobSpec Spec, string[] Explicit) : IMoeMessage
{
    /// <summary>A start in which every setting counts as given.</summary>
    public StartJob(JobSpec spec)
        : this(spec, [.. JobSpec.SettingNames])
    {
    }
}

public sealed record JobRejected(string JobId, string Reason) : IMoeMessage;

/// <summary>Answered with <see cref="JobStatus"/>.</summary>
public sealed record GetJobStatus : IMoeMessage
{
    public static GetJobStatus Instance { get; } = new();
}

/// <summary>
/// The coordinator's view of the job; <paramref name="Parameters"/> is the checkpoint pointer. The "Last" figures
/// describe the last committed round.
/// </summary>
public sealed record JobStatus(
    string JobId,
    int CommittedRounds,
    int TotalRounds,
    bool Finished,
    BlobRef? Parameters,
    string[] Members,
    string[] LastContributors,
    double LastLoss,
    long LastTokens,
    double LastRoundSeconds,
    double LastWorstMaxVio) : IMoeMessage
{
    public static JobStatus None { get; } = new("", 0, 0, false, null, [], [], double.NaN, 0, double.NaN, double.NaN);

    /// <summary>Why the job cannot go on (no kept checkpoint could be read back); null while it can.</summary>
    public string? Problem { get; init; }
}

/// <summary>
/// A trainer announces itself (and again every few seconds, so a coordinator that moved to another node learns
/// its members). It is admitted at the start of the next round.
/// </summary>
public sealed record RegisterTrainer(string TrainerId) : IMoeMessage;

/// <summary>
/// One trainer's part of a round: start from <paramref name="Parameters"/>, take H inner steps on data shard
/// <paramref name="Shard"/> starting at global step Round x H, with <paramref name="Contributors"/> trainers in the
/// round. <paramref name="Attempt"/> tells a retried round from the first try. Null parameters start an overlapped
/// round while the previous one commits: a trainer that finished the previous round continues from where it ended,
/// any other waits, and the parameters follow in <see cref="RoundParameters"/>.
/// </summary>
public sealed record RoundStart(JobSpec Spec, int Round, string Attempt, BlobRef? Parameters, long Shard, int Contributors) : IMoeMessage;

/// <summary>The global parameters an overlapped round starts from, sent once the previous round committed.</summary>
public sealed record RoundParameters(string JobId, int Round, string Attempt, BlobRef Parameters) : IMoeMessage;

/// <summary>
/// A trainer finished its part: the delta (global minus local) is in the blob store, or, when
/// <paramref name="Delta"/> is null, in the <see cref="Blobs.TensorHandoff"/> of the node the trainer shares with
/// the coordinator (such a result cannot be sent to another node).
/// </summary>
public sealed record RoundResult(string JobId, int Round, string Attempt, long Shard, BlobRef? Delta, PartStats Stats) : IMoeMessage
{
    public string TrainerId => Stats.TrainerId;

    /// <summary>The global q the trainer had received when it finished (null from trainers of earlier versions).</summary>
    public GlobalQ? Q { get; init; }

    /// <summary>The stored vocabulary of the trainer's dataset (vocabulary.json; null from trainers of earlier versions).</summary>
    public BlobRef? Vocabulary { get; init; }
}

/// <summary>A trainer could not finish its part (it is dropped from the round, which still commits if a quorum finishes).</summary>
public sealed record RoundFailed(string JobId, int Round, string Attempt, string TrainerId, string Reason) : IMoeMessage;

/// <summary>The last round committed: trainers stop.</summary>
public sealed record JobFinished(string JobId, int Rounds) : IMoeMessage;
