using System.Text.Json.Serialization;
using Moe.Model.Routing;

namespace Moe.Model.Network;

/// <summary>
/// One record describes the whole model (nanoGPT style). Presets are named; every field can be overridden.
/// </summary>
public sealed record MoeModelConfig
{
    public int VocabSize { get; init; } = 8192;

    public int ContextLength { get; init; } = 128;

    public int Dim { get; init; } = 64;

    public int Layers { get; init; } = 2;

    public int Heads { get; init; } = 4;

    /// <summary>The first layers use a dense SwiGLU feed-forward instead of experts.</summary>
    public int DenseLayers { get; init; }

    public int DenseHidden { get; init; } = 256;

    public int Experts { get; init; } = 8;

    public int TopK { get; init; } = 2;

    public int ExpertHidden { get; init; } = 128;

    /// <summary>One always-on expert beside the routed ones (DeepSeekMoE style).</summary>
    public bool SharedExpert { get; init; }

    /// <summary>Tokens an expert takes at most, as a multiple of n K / m; 0 means no limit (no dropping).</summary>
    public double CapacityFactor { get; init; }

    public RouterKind Router { get; init; } = RouterKind.Bip;

    public ScoreFunction ScoreFunction { get; init; } = ScoreFunction.Softmax;

    public bool NormalizeTopK { get; init; } = true;

    /// <summary>T of BIP and QB. The solve costs little beside a training step; see docs/results.md, "Choosing T".</summary>
    public int BalanceIterations { get; init; } = RouterConfig.DefaultIterations;

    public float BiasUpdateRate { get; init; } = 1e-3f;

    /// <summary>
    /// Solve BIP and QB with the C# kernel when scores live on the CPU (see <see cref="RouterConfig.CpuFastPath"/>);
    /// how a run executes, not its shape, so it is never saved.
    /// </summary>
    [JsonIgnore]
    public bool CpuFastPath { get; init; } = true;

    /// <summary>
    /// An ablation of BIP or QB (see <see cref="DualVariant"/>) that `compare` runs; never saved, since jobs and
    /// model folders train and route with the routers as published.
    /// </summary>
    [JsonIgnore]
    public DualVariant? DualVariant { get; init; }

    public float AuxLossAlpha { get; init; } = 1e-3f;

    public double RopeTheta { get; init; } = 10000;

    public double NormEpsilon { get; init; } = 1e-5;

    [JsonIgnore]
    public int HeadDim => Dim / Heads;

    /// <summary>
    /// Trainable parameters: the embedding (tied to the output head), per block the attention's four d x d
    /// matrices and two norms, the feed-forwards (SwiGLU: three matrices each), the MoE gates, and the final norm.
    /// </summary>
    [JsonIgnore]
    public long ParameterCount
    {
        get
        {
            long d = Dim;
            var attention = (4 * d * d) + (2 * d);
            var dense = 3 * d * DenseHidden;
            var moe = (d * Experts) + ((Experts + (SharedExpert ? 1 : 0)) * 3 * d * ExpertHidden);
            return (VocabSize * d) + (Layers * attention) + (DenseLayers * dense) + ((Layers - DenseLayers) * moe) + d;
        }
    }

    /// <summary>The shape on one line, e.g. for reports.</summary>
    public string Describe() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{Layers} layers{(DenseLayers > 0 ? $" ({DenseLayers} dense)" : "")} of d {Dim} with {Heads} heads, {Experts} experts of hidden {ExpertHidden}, top-{TopK}" +
        $"{(SharedExpert ? " and a shared expert" : "")}, {ScoreFunction.ToString().ToLowerInvariant()} scores" +
        $"{(CapacityFactor > 0 ? $", capacity factor {CapacityFactor}" : "")}, vocabulary {VocabSize}, context {ContextLength}; {ParameterCount / 1e6:F1} M parameters");

    [JsonIgnore]
    public RouterConfig RouterConfig => new(Experts, TopK, ScoreFunction, NormalizeTopK, BalanceIterations,
        BiasUpdateRate, AuxLossAlpha, CpuFastPath, DualVariant);

    public void Validate()
    {
        static void Positive(int value, string name)
        {
            if (value < 1)
                throw new ArgumentException($"{name} must be at least 1, got {value}.", name);
        }

        if (VocabSize is < Data.TokenDataset.MinVocabSize or > Data.TokenDataset.MaxVocabSize)
        {
            throw new ArgumentException($"VocabSize must be between {Data.TokenDataset.MinVocabSize} and {Data.TokenDataset.MaxVocabSize} " +
                $"(the GPT-2 tokenizer's ids and two of ours), got {VocabSize}.", nameof(VocabSize));
        }
        Positive(ContextLength, nameof(ContextLength));
        Positive(Dim, nameof(Dim));
        Positive(Layers, nameof(Layers));
        Positive(Heads, nameof(Heads));
        Positive(DenseHidden, nameof(DenseHidden));
        Positive(ExpertHidden, nameof(ExpertHidden));
        if (Dim % Heads != 0 || HeadDim % 2 != 0)
            throw new ArgumentException(
                $"Dim ({Dim}) must split into {Heads} heads of an even size for rotary embeddings.", nameof(Dim));
        if (DenseLayers < 0 || DenseLayers > Layers)
            throw new ArgumentException($"DenseLayers must be in [0, {Layers}], got {DenseLayers}.", nameof(DenseLayers));
        if (CapacityFactor < 0 || double.IsNaN(CapacityFactor))
            throw new ArgumentException($"CapacityFactor must be 0 (no limit) or positive, got {CapacityFactor}.", nameof(CapacityFactor));
        RouterConfig.Validate();
    }
}
