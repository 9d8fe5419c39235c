using Moe.Actors.Blobs;

namespace Moe.Actors.Training;

/// <summary>Persisted: the job was accepted, with the blob of its initial parameters.</summary>
public sealed record JobStartedEvent(JobSpec Spec, BlobRef Parameters) : IMoeMessage;

/// <summary>
/// Persisted: round <paramref name="Round"/> committed. Its parameters and outer momentum are the checkpoint; the
/// shard plan says which data is done. Once written, the round is never lost.
/// </summary>
public sealed record RoundCommittedEvent(
    int Round,
    BlobRef Parameters,
    BlobRef Momentum,
    ShardPlan Plan,
    string[] Contributors,
    double MeanLoss,
    long Tokens) : IMoeMessage;
