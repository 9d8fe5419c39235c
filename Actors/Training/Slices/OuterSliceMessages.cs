using System.Collections.Immutable;
using Moe.Actors.Blobs;

namespace Moe.Actors.Training.Slices;

/// <summary>A message for the owner of one slice of a job's outer step (<see cref="OuterSlice"/>).</summary>
public interface IOuterSliceCommand : IMoeMessage
{
    string JobId { get; }

    int Slice { get; }
}

/// <summary>
/// Step slice <paramref name="Slice"/> of round attempt <paramref name="Attempt"/>: average the trainers' delta slices
/// (in the order given), apply Nesterov with the momentum slice, store the new slices. Sent again (to the same
/// attempt) when no answer came; an owner that already stepped it answers with what it stored.
/// </summary>
public sealed record StepSlice(
    string JobId,
    int Slice,
    string Attempt,
    BlobRef Parameters,
    BlobRef? Momentum,
    ImmutableArray<BlobRef> Deltas,
    double LearningRate,
    double MomentumFactor) : IOuterSliceCommand;

/// <summary>A slice stepped and stored durably; also the owner's journal event, so a repeated request is answered.</summary>
public sealed record SliceStepped(string JobId, int Slice, string Attempt, BlobRef Parameters, BlobRef? Momentum) : IMoeMessage;

/// <summary>A slice that could not be stepped; <paramref name="Permanent"/>: asking again fails the same way.</summary>
public sealed record SliceStepFailed(string JobId, int Slice, string Attempt, string Reason, bool Permanent) : IMoeMessage;
