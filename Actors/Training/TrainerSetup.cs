using Moe.Actors.Blobs;
using Moe.Actors.Faults;
using Moe.Observability;

namespace Moe.Actors.Training;

/// <summary>What one trainer actor is made with: its identity and device, and the node's services it uses.</summary>
/// <param name="Id">Unique in the cluster: the node's address and the trainer's index.</param>
/// <param name="Device">cpu, cuda or cuda:N.</param>
/// <param name="IntraOpThreads">libtorch threads the trainer computes with.</param>
/// <param name="Handoff">Where the node's coordinator and trainers hand tensors over in memory; null: all through the store.</param>
/// <param name="CacheDirectory">Where the tokenised corpus is cached.</param>
/// <param name="MemoryProblem">Why a job's memory plan does not fit this trainer's device (with the node's other trainers), or null.</param>
public sealed record TrainerSetup(
    string Id,
    string Device,
    TrainerSettings Settings,
    int IntraOpThreads,
    IBlobStore Blobs,
    TensorHandoff? Handoff,
    string CacheDirectory,
    NodeMetrics Metrics,
    NodeFailures Failures,
    Func<JobSpec, string?> MemoryProblem);
