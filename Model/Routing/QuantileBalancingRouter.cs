namespace Moe.Model.Routing;

/// <summary>
/// Quantile Balancing: the dual with equality constraints (every expert takes exactly c tokens), so prices are
/// not clipped. An underloaded expert gets a negative price and attracts tokens, which BIP's clipping forbids.
/// </summary>
public sealed class QuantileBalancingRouter(RouterConfig config) : DualPriceRouter(config, clip: false)
{
    public override RouterKind Kind => RouterKind.QuantileBalancing;
}
