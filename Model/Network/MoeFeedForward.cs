using Moe.Model.Devices;
using Moe.Model.Routing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Moe.Model.Network;

/// <summary>
/// The MoE feed-forward of one layer: a linear gate gives router logits, the router picks K experts per token,
/// tokens are grouped per expert (one stable sort and one gather), each expert runs on its consecutive slots, and
/// one in-place index_add sums the outputs with the gate weights. An optional shared expert sees every token. Each pass
/// returns its routing beside its output.
/// </summary>
public sealed class MoeFeedForward : nn.Module<Tensor, (Tensor Output, LayerRouting Routing)>
{
    private readonly Linear gate;
    private readonly ModuleList<SwiGlu> experts;
    private readonly SwiGlu? shared;
    private readonly MoeModelConfig _config;

    public MoeFeedForward(MoeModelConfig config) : base(nameof(MoeFeedForward))
    {
        _config = config;
        gate = nn.Linear(config.Dim, config.Experts, hasBias: false);
        experts = nn.ModuleList([.. Enumerable.Range(0, config.Experts).Select(_ => new SwiGlu(config.Dim, config.ExpertHidden))]);
        shared = config.SharedExpert ? new SwiGlu(config.Dim, config.ExpertHidden) : null;
        Router = Routers.Create(config.Router, config.RouterConfig);
        RegisterComponents();
    }

    public IRouter Router { get; }

    internal SwiGlu Expert(int index) => experts[index];

    internal Tensor GateLogits(Tensor tokens) => gate.forward(tokens);

    /// <summary>How the experts run over their slots; tests and the step-profile benchmark swap in the reference.</summary>
    internal ExpertPass Pass { get; set; } = ExpertPasses.OnePass;

    /// <summary>
    /// Route with the router's state as it is and no capacity limit (see <see cref="IRouter.RouteForInference"/>):
    /// every token then routes on its own, as generation needs.
    /// </summary>
    public bool InferenceRouting { get; set; }

    public override (Tensor Output, LayerRouting Routing) forward(Tensor x)
    {
        var dim = x.shape[^1];
        var tokens = x.reshape(-1, dim);
        var scores = Routing.Scoring.Scores(gate.forward(tokens), _config.ScoreFunction);
        var decision = InferenceRouting
            ? Router.RouteForInference(scores)
            : Router.Route(scores, checkFinite: false); // the step checks its loss instead

        // The layer's one host read: splitting the slots into runs per expert needs the counts.
        var loads = Array.ConvertAll(HostReads.ToArray<int>(decision.Loads), load => (long)load);
        var capacity = _config.CapacityFactor > 0 && !InferenceRouting
            ? (long)Math.Ceiling(_config.CapacityFactor * tokens.shape[0] * _config.TopK / _config.Experts)
            : long.MaxValue;
        var slots = ExpertSlots.Group(decision.Experts, decision.Weights, loads, capacity, x.dtype);
        var output = Pass([.. experts], tokens, slots);
        if (shared is not null)
            output = output.Plus(shared.forward(tokens));

        var dropped = loads.Sum() - slots.Kept.Sum();
        return (output.view(x.shape), new LayerRouting(decision, scores, loads, dropped));
    }
}
