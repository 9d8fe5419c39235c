using Moe.Model.Routing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Moe.Model.Network;

/// <summary>
/// The MoE feed-forward of one layer: a linear gate gives router logits, the router picks K experts per token,
/// tokens are grouped per expert (one stable sort, one index_select and one index_add per expert) and the
/// experts' outputs are summed with the gate weights. An optional shared expert sees every token. Each pass
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

    public override (Tensor Output, LayerRouting Routing) forward(Tensor x)
    {
        var dim = x.shape[^1];
        var tokens = x.reshape(-1, dim);
        var scores = Routing.Scoring.Scores(gate.forward(tokens), _config.ScoreFunction);
        var decision = Router.Route(scores);

        var topK = _config.TopK;
        using var slotsPerToken = topK.ToScalar(); // explicit Scalars: see RmsNorm
        using var one = 1.0.ToScalar();
        var (_, order) = decision.Experts.flatten().sort(stable: true); // slots grouped by expert, in token order
        var tokenOfSlot = order.div(slotsPerToken, rounding_mode: RoundingMode.floor);
        var weightOfSlot = decision.Weights.flatten().index_select(0, order).unsqueeze(1).to(x.dtype);
        var loads = decision.Loads.cpu().data<long>().ToArray();
        var capacity = _config.CapacityFactor > 0
            ? (long)Math.Ceiling(_config.CapacityFactor * tokens.shape[0] * topK / _config.Experts)
            : long.MaxValue;

        var output = zeros_like(tokens);
        long offset = 0, dropped = 0;
        for (var e = 0; e < loads.Length; e++)
        {
            var kept = Math.Min(loads[e], capacity);
            dropped += loads[e] - kept;
            // An expert without tokens still runs on an empty batch, so that its gradient is zero rather than
            // missing: every parameter then takes every optimiser step, and a resumed run matches a straight one.
            var index = tokenOfSlot.narrow(0, offset, kept);
            var y = experts[e].forward(tokens.index_select(0, index)) * weightOfSlot.narrow(0, offset, kept);
            output = output.index_add(0, index, y, alpha: one);
            offset += loads[e];
        }
        if (shared is not null)
            output = output + shared.forward(tokens);

        return (output.view(x.shape), new LayerRouting(decision, scores, loads, dropped));
    }
}
