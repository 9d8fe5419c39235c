using Moe.Model.Balancing;

namespace Moe.Actors.Balancing;

/// <summary>A message routed to the layer balancer of (<see cref="JobId"/>, <see cref="Layer"/>).</summary>
public interface IBalancerCommand : IMoeMessage
{
    string JobId { get; }

    int Layer { get; }
}

/// <summary>
/// Creates the balancer of a job's layer (sent by the coordinator when the job starts). Sending the same spec again
/// is harmless; a different spec for an existing layer is refused. Answered with <see cref="CurrentQ"/> or
/// <see cref="CommandRejected"/>.
/// </summary>
public sealed record ConfigureLayer(string JobId, int Layer, LayerSpec Spec) : IBalancerCommand;

/// <summary>
/// One trainer's summary of one layer at one step: token count, loads and the histogram of
/// s - p per expert (expert-major, <see cref="LayerSpec.HistogramLength"/> counts) over the bins of
/// <see cref="Window"/>. <paramref name="Contributors"/> is the number of trainers in the round, so the balancer knows
/// when a step is complete. Accepted summaries are not answered (they are many); rejected ones get
/// <see cref="CommandRejected"/>.
/// </summary>
public sealed record StepSummary(
    string JobId,
    int Layer,
    string TrainerId,
    long Step,
    int Contributors,
    long Tokens,
    long[] Loads,
    SparseCounts Histogram) : IBalancerCommand
{
    /// <summary>The window the histogram was binned with, as the balancer published it; null for the job's fixed range.</summary>
    public ReadoutWindow? Window { get; init; }
}

/// <summary>
/// Trainer <paramref name="TrainerId"/> sends no summary for steps <paramref name="FromStep"/> to
/// <paramref name="ToStep"/> (inclusive): the coordinator dropped it from its round or its node became unreachable,
/// or it skipped a step. Those steps then close once the other trainers have reported, without waiting for the
/// flush. Not answered; a summary that still comes is merged as usual.
/// </summary>
public sealed record StepsReleased(string JobId, int Layer, string TrainerId, long FromStep, long ToStep) : IBalancerCommand;

/// <summary>Asks for the last acknowledged q; answered with <see cref="CurrentQ"/>.</summary>
public sealed record GetQ(string JobId, int Layer) : IBalancerCommand;

/// <summary>Asks for the balancer's counters; answered with <see cref="BalancerStatus"/>.</summary>
public sealed record GetBalancerStatus(string JobId, int Layer) : IBalancerCommand;

/// <summary>The last acknowledged (persisted) q of a layer and the step it was read at; step -1 before the first.</summary>
public sealed record CurrentQ(string JobId, int Layer, long Step, float[] Q) : IMoeMessage;

/// <summary>A command the balancer refused, with the reason and nothing of it persisted.</summary>
public sealed record CommandRejected(string JobId, int Layer, string TrainerId, long Step, string Reason) : IMoeMessage;

/// <summary>
/// A new global q, published to the job's topic (<see cref="BalancerTopics"/>) once it is persisted, with the loads of
/// the merged step and how many trainers contributed to it.
/// </summary>
public sealed record QPublished(string JobId, int Layer, long Step, float[] Q, long[] Loads, int Contributors) : IMoeMessage
{
    /// <summary>
    /// The window read from this step for later steps to bin with (see <see cref="Training.JobSpec.WindowLag"/>); null from
    /// balancers that only know the fixed range.
    /// </summary>
    public ReadoutWindow? Window { get; init; }
}

/// <summary>Counters of one balancer, for tests, metrics and operators.</summary>
public sealed record BalancerStatus(
    string JobId,
    int Layer,
    bool Configured,
    long Step,
    long LastSequenceNr,
    long Accepted,
    long Ignored,
    long Rejected,
    int PendingSteps) : IMoeMessage;

/// <summary>The pub-sub topic on which a job's balancers publish q.</summary>
public static class BalancerTopics
{
    public static string For(string jobId) => $"moe-q.{jobId}";
}
