using System.Globalization;
using Moe.Model.Network;

namespace Moe.Model.Training;

/// <summary>
/// What one trainer holds while it trains a shape (float32 throughout), estimated from the shape before any memory
/// is taken: the parameters, their gradients and AdamW's two moments, the activations one micro-batch keeps for its
/// backward pass, and the round's copies (the global parameters a round starts from and the delta it hands in). The
/// coordinator holds the parameters, the momentum, the sum of the deltas and one delta being read.
/// </summary>
public sealed record MemoryPlan(long Parameters, long ActiveParametersPerToken, long ParameterBytes, long GradientBytes, long OptimizerBytes,
    long ActivationBytes, long RoundCopyBytes, long CoordinatorBytes)
{
    private const int FloatBytes = sizeof(float);

    /// <summary>
    /// The backward pass holds the gradients of the activations besides the activations themselves: this share of
    /// them at its peak, as measured on the CPU (docs/benchmarks.md, "Memory plan").
    /// </summary>
    private const double BackwardShare = 0.45;

    /// <summary>libtorch's first use in a process: its kernels' buffers and thread pools.</summary>
    public const long RuntimeBytes = 64L << 20;

    /// <summary>Everything one trainer holds at its peak.</summary>
    public long TrainerBytes => RuntimeBytes + ParameterBytes + GradientBytes + OptimizerBytes + ActivationBytes + RoundCopyBytes;

    public static MemoryPlan For(MoeModelConfig model, TrainingConfig training)
    {
        long p = model.ParameterCount;
        var bytes = p * FloatBytes;
        var activations = (long)(ActivationFloats(model, training) * FloatBytes * (1 + BackwardShare));
        return new MemoryPlan(p, ActivePerToken(model), bytes, bytes, 2 * bytes, activations, 2 * bytes, 4 * bytes);
    }

    /// <summary>Parameters a token goes through: all but the experts it is not routed to.</summary>
    public static long ActivePerToken(MoeModelConfig m)
    {
        long d = m.Dim;
        var idle = (m.Layers - m.DenseLayers) * (m.Experts - m.TopK) * 3 * d * m.ExpertHidden;
        return m.ParameterCount - idle;
    }

    /// <summary>
    /// Floats a micro-batch keeps alive until its backward pass, per token: per block the attention's inputs,
    /// projections and output; per MoE layer the gate's scores, each routed slot's gathered input, SwiGLU
    /// intermediates, output, its place in the experts' joined output and its weighted output, and the combined
    /// output; per dense layer its SwiGLU; and the head's logits with their log-softmax and gradient.
    /// </summary>
    private static long ActivationFloats(MoeModelConfig m, TrainingConfig t)
    {
        long d = m.Dim, tokens = (long)t.BatchSize * m.ContextLength;
        var attention = 11 * d;
        var moe = (5 * d) + (2 * m.Experts) + (m.TopK * ((4 * d) + (4 * m.ExpertHidden)))
            + (m.SharedExpert ? (2 * d) + (4 * m.ExpertHidden) : 0);
        var dense = (4 * d) + (4 * m.DenseHidden);
        var head = (2 * d) + (3L * m.VocabSize);
        var perToken = d + (m.Layers * attention) + ((m.Layers - m.DenseLayers) * moe) + (m.DenseLayers * dense) + head;
        var scores = (long)m.Heads * m.ContextLength; // attention's log-sum-exp per query row, small beside the rest
        return tokens * (perToken + scores / m.ContextLength);
    }

    /// <summary>The plan on a few lines, in GiB.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"""
        parameters {Parameters / 1e6:F1} M ({ActiveParametersPerToken / 1e6:F1} M active per token)
        per trainer: {Gib(ParameterBytes)} parameters + {Gib(GradientBytes)} gradients + {Gib(OptimizerBytes)} AdamW + {Gib(ActivationBytes)} activations + {Gib(RoundCopyBytes)} round copies + {Gib(RuntimeBytes)} libtorch = {Gib(TrainerBytes)}
        coordinator: {Gib(CoordinatorBytes)} (parameters, momentum, the deltas' sum and one delta)
        """);

    public static string Gib(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F2} GiB");
}
