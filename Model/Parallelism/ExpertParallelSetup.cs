namespace Moe.Model.Parallelism;

/// <summary>
/// The deployment an expert-parallel step is modelled on: the hardware of a rank, and the layer's size and tokens per
/// rank, since a small model trained here would measure only all-to-all latency (docs/results.md lists the sources
/// of the defaults). A run's recorded loads are scaled to <see cref="TokensPerRank"/>; their shares stay as recorded.
/// </summary>
/// <param name="FlopsPerSecond">Peak dense BF16 FLOP/s of one GPU.</param>
/// <param name="Efficiency">The share of the peak the expert matmuls reach.</param>
/// <param name="RanksPerNode">GPUs joined by NVLink; expert parallelism beyond it crosses the network.</param>
/// <param name="IntraNodeBytesPerSecond">All-to-all bandwidth a rank reaches to ranks of its own node.</param>
/// <param name="InterNodeBytesPerSecond">All-to-all bandwidth a rank reaches to ranks of other nodes.</param>
/// <param name="LatencySeconds">Fixed cost of one all-to-all (dispatch or combine).</param>
/// <param name="BytesPerElement">Bytes of one activation element on the wire (2: BF16).</param>
/// <param name="Dim">The model dimension: a token copy carries this many activations each way.</param>
/// <param name="ExpertHidden">The SwiGLU expert's hidden size.</param>
/// <param name="TokensPerRank">Tokens each rank routes per step.</param>
public sealed record ExpertParallelSetup(
    double FlopsPerSecond,
    double Efficiency,
    int RanksPerNode,
    double IntraNodeBytesPerSecond,
    double InterNodeBytesPerSecond,
    double LatencySeconds,
    int BytesPerElement,
    int Dim,
    int ExpertHidden,
    int TokensPerRank)
{
    /// <summary>
    /// H800 nodes of 8 GPUs with DeepEP's normal kernels: 989 TFLOP/s dense BF16 (the Hopper SXM datasheet), 40 %
    /// of it in the experts' matmuls, 153 GB/s inside a node and 43 GB/s across nodes (DeepEP's measured bottleneck
    /// bandwidths for EP 8 and EP 16), 77 us per all-to-all (DeepEP's low-latency dispatch at EP 8), BF16 activations;
    /// DeepSeek-V3's layer (7,168 dimensions, experts of 2,048) with 4,096 tokens per rank, DeepEP's test setting.
    /// </summary>
    public static ExpertParallelSetup H800 { get; } = new(989e12, 0.4, 8, 153e9, 43e9, 77e-6, 2, 7168, 2048, 4096);

    public void Validate()
    {
        if (!(FlopsPerSecond > 0) || !(Efficiency is > 0 and <= 1) || RanksPerNode < 1 || !(IntraNodeBytesPerSecond > 0)
            || !(InterNodeBytesPerSecond > 0) || !(LatencySeconds >= 0) || BytesPerElement < 1 || Dim < 1 || ExpertHidden < 1 || TokensPerRank < 1)
        {
            throw new ArgumentException($"Expert-parallel constants must be positive (efficiency in (0, 1], latency 0 or more): {this}.");
        }
    }
}
