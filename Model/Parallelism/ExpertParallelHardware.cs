namespace Moe.Model.Parallelism;

/// <summary>
/// What an expert-parallel step's time depends on, per rank (docs/results.md lists the sources of the defaults).
/// </summary>
/// <param name="FlopsPerSecond">Peak dense BF16 FLOP/s of one GPU.</param>
/// <param name="Efficiency">The share of the peak the expert matmuls reach.</param>
/// <param name="RanksPerNode">GPUs joined by NVLink; expert parallelism beyond it crosses the network.</param>
/// <param name="IntraNodeBytesPerSecond">All-to-all bandwidth a rank reaches to ranks of its own node.</param>
/// <param name="InterNodeBytesPerSecond">All-to-all bandwidth a rank reaches to ranks of other nodes.</param>
/// <param name="LatencySeconds">Fixed cost of one all-to-all (dispatch or combine).</param>
/// <param name="BytesPerElement">Bytes of one activation element on the wire (2: BF16).</param>
public sealed record ExpertParallelHardware(
    double FlopsPerSecond,
    double Efficiency,
    int RanksPerNode,
    double IntraNodeBytesPerSecond,
    double InterNodeBytesPerSecond,
    double LatencySeconds,
    int BytesPerElement)
{
    /// <summary>
    /// H800 nodes of 8 GPUs with DeepEP's normal kernels: 989 TFLOP/s dense BF16 (the Hopper SXM datasheet), 40 %
    /// of it in the experts' matmuls, 153 GB/s inside a node and 43 GB/s across nodes (DeepEP's measured bottleneck
    /// bandwidths for EP 8 and EP 16), 77 us per all-to-all (DeepEP's low-latency dispatch at EP 8), BF16 activations.
    /// </summary>
    public static ExpertParallelHardware H800 { get; } = new(989e12, 0.4, 8, 153e9, 43e9, 77e-6, 2);

    public void Validate()
    {
        if (!(FlopsPerSecond > 0) || !(Efficiency is > 0 and <= 1) || RanksPerNode < 1 || !(IntraNodeBytesPerSecond > 0)
            || !(InterNodeBytesPerSecond > 0) || !(LatencySeconds >= 0) || BytesPerElement < 1)
        {
            throw new ArgumentException($"Hardware constants must be positive (efficiency in (0, 1], latency 0 or more): {this}.");
        }
    }
}
