namespace Moe.Model.Routing;

/// <summary>BIP-Based Balancing (arXiv 2502.15451): the dual with inequality constraints, prices clipped at 0.</summary>
public sealed class BipRouter(RouterConfig config) : DualPriceRouter(config, clip: true)
{
    public override RouterKind Kind => RouterKind.Bip;
}
