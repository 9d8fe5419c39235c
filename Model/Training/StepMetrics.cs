using Moe.Model.Balancing;

namespace Moe.Model.Training;

/// <summary>What one training step measured. Layers lists the MoE layers in depth order.</summary>
/// <remarks>
/// A skipped step (<see cref="Skipped"/>) had a loss or gradient norm that was not finite: they are reported as
/// they were, and nothing else of the step took effect.
/// </remarks>
public sealed record StepMetrics(
    int Step,
    double Loss,
    double LearningRate,
    double GradientNorm,
    TimeSpan Duration,
    int Tokens,
    IReadOnlyList<LayerBalance> Layers)
{
    /// <summary>The loss or gradient norm was not finite, so the step changed nothing.</summary>
    public bool Skipped { get; init; }

    /// <summary>Reads of device values on the host during the step (see <see cref="Devices.HostReads"/>).</summary>
    public long HostReads { get; init; }

    public double TokensPerSecond => Tokens / Duration.TotalSeconds;

    /// <summary>MaxVio_batch averaged over the MoE layers.</summary>
    public double MeanMaxVio => Layers.Count == 0 ? 0 : Layers.Average(l => l.Measures.MaxVio);

    /// <summary>MaxVio_batch of the worst layer.</summary>
    public double WorstMaxVio => Layers.Count == 0 ? 0 : Layers.Max(l => l.Measures.MaxVio);
}

/// <summary>One MoE layer's routing in one step.</summary>
public sealed record LayerBalance(int Layer, long[] Loads, BalanceMeasures Measures, long Dropped);

/// <summary>A validation pass: loss, perplexity, and MaxVio_global per layer (loads summed over the pass).</summary>
public sealed record Evaluation(int Step, double Loss, IReadOnlyList<LayerBalance> Layers)
{
    public double Perplexity => Math.Exp(Loss);

    public double MeanMaxVio => Layers.Count == 0 ? 0 : Layers.Average(l => l.Measures.MaxVio);
}
