namespace Moe.Model.Routing;

/// <summary>Everything a router of one MoE layer needs to know. Validated on construction of a router.</summary>
/// <param name="Experts">m, the number of routed experts.</param>
/// <param name="TopK">K, experts per token (1 &lt;= K &lt;= m).</param>
/// <param name="ScoreFunction">Softmax or sigmoid of the router logits.</param>
/// <param name="NormalizeTopK">Renormalise the K chosen gate weights to sum to 1.</param>
/// <param name="Iterations">T, dual coordinate iterations per step (BIP and QB).</param>
/// <param name="BiasUpdateRate">u of Loss-Free balancing.</param>
/// <param name="AuxLossAlpha">alpha of the Loss-Controlled auxiliary loss.</param>
/// <param name="CpuFastPath">Solve the dual with the vectorised C# kernel when scores live on the CPU.</param>
/// <param name="Variant">BIP and QB only: an ablation's clipping and solve order instead of the router's own.</param>
public sealed record RouterConfig(
    int Experts,
    int TopK,
    ScoreFunction ScoreFunction = ScoreFunction.Softmax,
    bool NormalizeTopK = true,
    int Iterations = RouterConfig.DefaultIterations,
    float BiasUpdateRate = 1e-3f,
    float AuxLossAlpha = 1e-3f,
    bool CpuFastPath = true,
    DualVariant? Variant = null)
{
    /// <summary>The dual iterations T per step; why 16 is in docs/results.md, "Choosing T".</summary>
    public const int DefaultIterations = 16;

    public void Validate()
    {
        if (Experts < 1)
            throw new ArgumentException($"Experts must be at least 1, got {Experts}.", nameof(Experts));
        RoutingGuards.TopK(TopK, Experts);
        RoutingGuards.Iterations(Iterations);
        if (!float.IsFinite(BiasUpdateRate) || BiasUpdateRate < 0)
            throw new ArgumentException($"BiasUpdateRate must be finite and >= 0, got {BiasUpdateRate}.", nameof(BiasUpdateRate));
        if (!float.IsFinite(AuxLossAlpha) || AuxLossAlpha < 0)
            throw new ArgumentException($"AuxLossAlpha must be finite and >= 0, got {AuxLossAlpha}.", nameof(AuxLossAlpha));
    }
}
