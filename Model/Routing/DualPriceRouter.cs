using Moe.Model.Balancing;
using Moe.Model.Devices;
using static TorchSharp.torch;

namespace Moe.Model.Routing;

/// <summary>
/// Shared body of BIP and Quantile Balancing: solve the dual on the current batch from the previous step's q
/// (warm start), then take top-K of s - q. q only reorders experts; gate weights come from s. A
/// <see cref="DualVariant"/> in the config changes which prices are clipped, or solves after routing instead.
/// </summary>
public abstract class DualPriceRouter : IRouter
{
    private readonly bool _clip;
    private readonly DualVariant _variant;
    private Tensor _q;

    protected DualPriceRouter(RouterConfig config, bool clip)
    {
        config.Validate();
        Config = config;
        _clip = clip;
        _variant = config.Variant ?? new DualVariant(clip ? PriceClipping.Both : PriceClipping.None);
        _q = zeros(config.Experts, dtype: ScalarType.Float32).DetachFromDisposeScope();
    }

    public abstract RouterKind Kind { get; }

    public RouterConfig Config { get; }

    /// <summary>True for BIP (prices clipped at 0), false for Quantile Balancing.</summary>
    public bool Clip => _clip;

    /// <summary>The current q (float32, on the device of the last batch routed).</summary>
    public Tensor? State => _q;

    public void LoadState(Tensor state, bool checkFinite = true)
    {
        RoutingGuards.State(state, Config.Experts, "q", checkFinite);
        _q.Dispose();
        _q = state.detach().to(ScalarType.Float32).clone().DetachFromDisposeScope();
    }

    public RoutingDecision Route(Tensor scores, bool checkFinite = true)
    {
        RoutingGuards.Scores(scores, Config.Experts, checkFinite);
        if (!_variant.SolveAfterRouting)
            UpdatePrices(scores);
        var decision = TopKSelection.Route(scores, scores.detach() - _q.to(scores.dtype, scores.device), Config, withTokenPrices: true);
        if (_variant.SolveAfterRouting)
            UpdatePrices(scores);
        return decision;
    }

    // q after T dual iterations on this batch, warm-started from the current q.
    private void UpdatePrices(Tensor scores)
    {
        using (no_grad())
        {
            var s = scores.detach().to(ScalarType.Float32);
            Tensor next;
            if (Config.CpuFastPath && s.device_type == TorchSharp.DeviceType.CPU)
            {
                using var q = _q.cpu();
                var host = HostReads.KernelFloats(q).ToArray();
                using var contiguous = s.contiguous();
                var values = HostReads.KernelFloats(contiguous);
                // Unchecked scores may hold NaN (a diverging step); q then stays as it is, and the step's loss check
                // skips the step.
                if (DualBalancingCpu.AllFinite(values))
                    DualBalancingCpu.SolveValidated(values, (int)s.shape[0], Config.Experts, host, Config.TopK, Config.Iterations, _variant.ClipsTokenPrices, _variant.ClipsExpertPrices);
                next = tensor(host);
            }
            else
            {
                next = DualBalancing.Solve(s, _q.to(s.device), Config.TopK, Config.Iterations, _variant.ClipsTokenPrices, _variant.ClipsExpertPrices);
            }
            _q.Dispose();
            _q = next.DetachFromDisposeScope();
        }
    }

    public RoutingDecision RouteForInference(Tensor scores) =>
        TopKSelection.PerToken(scores, scores.detach() - _q.to(scores.dtype, scores.device), Config);

    /// <summary>q is updated inside <see cref="Route"/>, so there is nothing to do after the step.</summary>
    public void AfterStep(RoutingDecision decision)
    {
    }
}
