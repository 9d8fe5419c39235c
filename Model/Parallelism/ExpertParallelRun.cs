using Moe.Model.Network;
using Moe.Model.Training;

namespace Moe.Model.Parallelism;

/// <summary>How experts are placed on ranks when a run is modelled (see <see cref="ExpertPlacement"/>).</summary>
public enum PlacementKind
{
    Contiguous,
    RoundRobin,

    /// <summary>Re-placed every <see cref="ExpertParallelRun.ReplaceEvery"/> steps from the loads of the steps before.</summary>
    LoadAware,
}

/// <summary>
/// A run's MoE time per step under expert parallelism of E ranks, relative to the same step with perfectly balanced
/// experts (1 = balanced): summed over the MoE layers, from the loads the run recorded, scaled to the setup's tokens.
/// With a capacity factor, an expert receives and computes at most its capacity; the copies beyond it are dropped
/// before dispatch, as the model drops them, so a dropping run can be faster than balance.
/// </summary>
public sealed record ExpertParallelRun(int Ranks, PlacementKind Placement, double[] RelativeTime)
{
    /// <summary>Steps between two load-aware placements: moving experts between ranks is not free.</summary>
    public const int ReplaceEvery = 50;

    public double Mean => RelativeTime.Average();

    public double Worst => RelativeTime.Max();

    public static ExpertParallelRun Of(IReadOnlyList<StepMetrics> steps, MoeModelConfig model, int ranks, PlacementKind placement,
        ExpertParallelSetup setup)
    {
        setup.Validate();
        var copies = (double)setup.TokensPerRank * ranks * model.TopK;
        var experts = model.Experts;
        var capacity = model.CapacityFactor > 0 ? model.CapacityFactor * copies / experts : double.PositiveInfinity;
        var fixedPlacement = placement switch
        {
            PlacementKind.Contiguous => ExpertPlacement.Contiguous(experts, ranks),
            PlacementKind.RoundRobin => ExpertPlacement.RoundRobin(experts, ranks),
            _ => null,
        };
        var layers = steps.Count == 0 ? 0 : steps[0].Layers.Count;
        var loadAware = new ExpertPlacement[layers];
        var relative = new double[steps.Count];
        for (var t = 0; t < steps.Count; t++)
        {
            double time = 0, balanced = 0;
            for (var l = 0; l < steps[t].Layers.Count; l++)
            {
                if (fixedPlacement is null && t % ReplaceEvery == 0)
                {
                    loadAware[l] = t == 0
                        ? ExpertPlacement.Contiguous(experts, ranks)
                        : ExpertPlacement.LoadAware(steps.Skip(t - ReplaceEvery).Take(ReplaceEvery).Select(s => s.Layers[l].Loads), experts, ranks);
                }
                var on = fixedPlacement ?? loadAware[l];
                var recorded = steps[t].Layers[l].Loads;
                var scale = copies / Math.Max(1, recorded.Sum());
                var loads = recorded.Select(v => v * scale).ToArray();
                time += ExpertParallelTime.Layer([.. loads.Select(v => Math.Min(v, capacity))], on, setup).Seconds;
                balanced += ExpertParallelTime.Balanced(loads, on, setup).Seconds;
            }
            relative[t] = balanced > 0 ? time / balanced : 1;
        }
        return new ExpertParallelRun(ranks, placement, relative);
    }

    /// <summary>The expert-parallel degrees worth modelling for m experts: 4, 8 and 16 up to m, or 8 and m beyond 16.</summary>
    public static int[] DefaultRanks(int experts) =>
        experts <= 16 ? [.. SmallDegrees.Where(e => e <= experts && experts % e == 0)] : [.. new[] { 8, experts }.Where(e => experts % e == 0)];

    private static readonly int[] SmallDegrees = [4, 8, 16];
}
