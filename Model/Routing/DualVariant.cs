namespace Moe.Model.Routing;

/// <summary>Which of the dual's prices are clipped at 0: BIP clips both, Quantile Balancing neither.</summary>
public enum PriceClipping
{
    Both,
    TokenPrices,
    ExpertPrices,
    None,
}

/// <summary>
/// A variation of the dual routers for ablations (docs/results.md): which prices are clipped, and whether q is solved
/// on the current batch before routing it (the paper) or after, so that each batch is routed with the q of the
/// batches before it and never looked at first.
/// </summary>
public sealed record DualVariant(PriceClipping Clipping, bool SolveAfterRouting = false)
{
    public bool ClipsTokenPrices => Clipping is PriceClipping.Both or PriceClipping.TokenPrices;

    public bool ClipsExpertPrices => Clipping is PriceClipping.Both or PriceClipping.ExpertPrices;
}
