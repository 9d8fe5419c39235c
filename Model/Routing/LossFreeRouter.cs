using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Routing;

/// <summary>
/// Loss-Free Balancing (Wang et al. 2024, arXiv 2408.15664): top-K of s + b, and after each step
/// b[j] += u * sign(mean load - load[j]). The bias comes from previous batches only, never the current one.
/// </summary>
public sealed class LossFreeRouter : IRouter
{
    private Tensor _bias;

    public LossFreeRouter(RouterConfig config)
    {
        config.Validate();
        Config = config;
        _bias = zeros(config.Experts, dtype: ScalarType.Float32).DetachFromDisposeScope();
    }

    public RouterKind Kind => RouterKind.LossFree;

    public RouterConfig Config { get; }

    public Tensor? State => _bias;

    public RoutingDecision Route(Tensor scores)
    {
        RoutingGuards.Scores(scores, Config.Experts);
        using var ranking = scores.detach() + _bias.to(scores.dtype, scores.device);
        return TopKSelection.Route(scores, ranking, Config);
    }

    public void AfterStep(RoutingDecision decision)
    {
        using (no_grad())
        {
            var loads = decision.Loads.to(ScalarType.Float32).cpu();
            var mean = loads.mean();
            using var rate = Config.BiasUpdateRate.ToScalar(); // explicit Scalar: see RmsNorm
            var update = (mean - loads).sign() * rate;
            _bias.add_(update.to(_bias.device));
        }
    }

    public void LoadState(Tensor state)
    {
        RoutingGuards.State(state, Config.Experts, "bias");
        _bias.Dispose();
        _bias = state.detach().to(ScalarType.Float32).clone().DetachFromDisposeScope();
    }
}
