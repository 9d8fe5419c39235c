using Moe.Model.Devices;
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

    public RoutingDecision Route(Tensor scores, bool checkFinite = true)
    {
        RoutingGuards.Scores(scores, Config.Experts, checkFinite);
        using var ranking = scores.detach().Plus(_bias.to(scores.dtype, scores.device));
        return TopKSelection.Route(scores, ranking, Config);
    }

    public RoutingDecision RouteForInference(Tensor scores) =>
        TopKSelection.PerToken(scores, scores.detach().Plus(_bias.to(scores.dtype, scores.device)), Config);

    public void AfterStep(RoutingDecision decision)
    {
        using (no_grad())
        {
            // On the loads' device: the update needs no host read.
            var loads = decision.Loads.to(ScalarType.Float32);
            using var rate = Config.BiasUpdateRate.ToScalar(); // held Scalar: see KeptScalars
            var update = (loads.mean() - loads).sign() * rate;
            if (_bias.device_type != update.device_type || _bias.device_index != update.device_index)
            {
                var moved = _bias.to(update.device).DetachFromDisposeScope(); // the bias follows the scores
                _bias.Dispose();
                _bias = moved;
            }
            _bias.PlusInPlace(update);
        }
    }

    public void LoadState(Tensor state, bool checkFinite = true)
    {
        RoutingGuards.State(state, Config.Experts, "bias", checkFinite);
        _bias.Dispose();
        _bias = state.detach().to(ScalarType.Float32).clone().DetachFromDisposeScope();
    }
}
