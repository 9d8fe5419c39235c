using Moe.Model.Devices;
using static TorchSharp.torch;

namespace Moe.Model.Balancing;

/// <summary>
/// How balanced one routing is. Every report, metric and test reads these from here.
/// </summary>
/// <param name="MaxVio">(max load - mean) / mean.</param>
/// <param name="MinOverMean">min load / mean: utilisation of the least used expert.</param>
/// <param name="CoefficientOfVariation">Population standard deviation of the loads over their mean.</param>
/// <param name="DeadExperts">Experts that received no token.</param>
/// <param name="ExpertParallelEfficiency">mean / max: the busy share of devices if each expert had its own.</param>
public sealed record BalanceMeasures(
    double MeanLoad,
    long MaxLoad,
    long MinLoad,
    double MaxVio,
    double MinOverMean,
    double CoefficientOfVariation,
    int DeadExperts,
    double ExpertParallelEfficiency)
{
    /// <summary>Measures from per-expert loads; the mean load is sum(loads) / m (= n K / m for a full routing).</summary>
    public static BalanceMeasures FromLoads(ReadOnlySpan<long> loads)
    {
        if (loads.IsEmpty)
            throw new ArgumentException("Loads must have one entry per expert; got none.", nameof(loads));
        long total = 0, max = long.MinValue, min = long.MaxValue;
        var dead = 0;
        foreach (var load in loads)
        {
            if (load < 0)
                throw new ArgumentException($"Loads must be non-negative, got {load}.", nameof(loads));
            total += load;
            max = Math.Max(max, load);
            min = Math.Min(min, load);
            if (load == 0)
                dead++;
        }
        if (total == 0)
            throw new ArgumentException("Loads are all zero: nothing was routed.", nameof(loads));

        var mean = (double)total / loads.Length;
        var variance = 0.0;
        foreach (var load in loads)
            variance += (load - mean) * (load - mean);
        variance /= loads.Length;

        return new BalanceMeasures(
            MeanLoad: mean,
            MaxLoad: max,
            MinLoad: min,
            MaxVio: (max - mean) / mean,
            MinOverMean: min / mean,
            CoefficientOfVariation: Math.Sqrt(variance) / mean,
            DeadExperts: dead,
            ExpertParallelEfficiency: mean / max);
    }

    /// <summary>Measures from a [experts] load tensor on any device.</summary>
    public static BalanceMeasures FromLoads(Tensor loads) =>
        FromLoads(HostReads.ToArray<long>(loads.to(ScalarType.Int64)));

    /// <summary>The routing objective sum_ij s[i,j] x[i,j]: the total original score of the chosen experts.</summary>
    public static double Objective(Tensor scores, Tensor experts)
    {
        using var scope = NewDisposeScope();
        return HostReads.Item<double>(scores.detach().to(ScalarType.Float64).gather(1, experts).sum());
    }
}
