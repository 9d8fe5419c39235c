using System.Globalization;
using Moe.Model.Training;

namespace Moe.Cluster.Host.Configuration;

/// <summary>
/// The Helm chart's memory and volume sizes for a job, from its memory plan (the formulas of the chart's README):
/// what `plan --helm` prints as values.
/// </summary>
/// <param name="TrainersPerPod">Trainers in one trainer pod (its GPUs, or trainer.trainersPerPod).</param>
/// <param name="Gpu">Whether the trainers train on GPUs: their host memory then holds only the round's copies.</param>
/// <param name="Trainers">Trainers the job is expected to have in all: the coordinator stores a delta from each per round.</param>
/// <param name="KeepRounds">Blobs:KeepRounds, the checkpoints the coordinator keeps.</param>
public sealed record ChartSizing(int TrainersPerPod, bool Gpu, int Trainers, int KeepRounds)
{
    private const long Gib = 1L << 30;

    /// <summary>Room above a plan for what it leaves out (the runtime, Akka, the allocator's slack).</summary>
    private const double Headroom = 1.25;

    public IReadOnlyDictionary<string, string> Values(MemoryPlan plan)
    {
        var trainerPod = TrainersPerPod * (Gpu ? plan.RoundCopyBytes + plan.ParameterBytes + MemoryPlan.RuntimeBytes : plan.TrainerBytes);
        var coordinatorPod = plan.CoordinatorBytes + MemoryPlan.RuntimeBytes + Gib; // Akka, the balancers, the journal's cache
        // Checkpoints kept and the one being written (parameters and momentum each), a round's deltas, and a quarantined blob.
        var blobs = ((KeepRounds + 1) * 2 * plan.ParameterBytes) + (Trainers * plan.ParameterBytes) + plan.ParameterBytes;
        // A download of the parameters, a spooled upload of the delta, and the tokenised corpus.
        var scratch = (2 * plan.ParameterBytes) + Gib;
        return new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["coordinator.persistence.size"] = Size(blobs * Headroom),
            ["coordinator.resources.limits.memory"] = Size(coordinatorPod * Headroom),
            ["coordinator.resources.requests.memory"] = Size(coordinatorPod),
            ["trainer.resources.limits.memory"] = Size(trainerPod * Headroom),
            ["trainer.resources.requests.memory"] = Size(trainerPod),
            ["trainer.scratchSize"] = Size(scratch * Headroom),
        };
    }

    /// <summary>Whole GiB, rounded up, as Kubernetes quantities.</summary>
    private static string Size(double bytes) => string.Create(CultureInfo.InvariantCulture, $"{Math.Max(1, (long)Math.Ceiling(bytes / Gib))}Gi");
}
