namespace Moe.Model.Routing;

public static class Routers
{
    public static IRouter Create(RouterKind kind, RouterConfig config) => kind switch
    {
        RouterKind.TopK => new TopKRouter(config),
        RouterKind.Bip => new BipRouter(config),
        RouterKind.QuantileBalancing => new QuantileBalancingRouter(config),
        RouterKind.LossFree => new LossFreeRouter(config),
        RouterKind.LossControlled => new LossControlledRouter(config),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
