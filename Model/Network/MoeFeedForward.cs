using Moe.Model.Balancing;
using Moe.Model.Routing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Moe.Model.Network;

/// <summary>
/// The MoE feed-forward of one layer: a linear gate gives router logits, the router picks K experts per token,
/// tokens are grouped per expert (one stable sort, one index_select and one index_add per expert) and the
/// experts' outputs are summed with the gate weights. An optional shared expert sees every token.
/// </summary>
public sealed class MoeFeedForward : nn.Module<Tensor, Tensor>
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

    /// <summary>The routing of the last forward pass; its tensors live in the caller's dispose scope.</summary>
    public RoutingDecision? LastDecision { get; private set; }

    /// <summary>Tokens routed to each expert in the last forward pass (before any capacity limit), on the host.</summary>
    public long[] LastLoads { get; private set; } = [];

    /// <summary>Routed slots the capacity limit turned away in the last forward pass.</summary>
    public long LastDropped { get; private set; }

    /// <summary>
    /// When set (cluster training with BIP or QB), each forward pass also summarises its batch for the layer's
    /// balancer: the histogram of s - p, with p the token prices at the q the router just solved.
    /// </summary>
    public HistogramRange? SummaryRange { get; set; }

    /// <summary>The summary of the last forward pass (see <see cref="SummaryRange"/>), or null.</summary>
    public ExpertHistogram? LastSummary { get; private set; }

    public override Tensor forward(Tensor x)
    {
        var dim = x.shape[^1];
        var tokens = x.reshape(-1, dim);
        var scores = Routing.Scoring.Scores(gate.forward(tokens), _config.ScoreFunction);
        var decision = Router.Route(scores);
        LastSummary = SummaryRange is { } range && Router is DualPriceRouter dual
            ? ExpertHistogram.Build(scores, DualBalancing.TokenPrices(scores.detach(), dual.State!.to(scores.device), _config.TopK, dual.Clip), range)
            : null;

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

        LastDecision = decision;
        LastLoads = loads;
        LastDropped = dropped;
        return output.view(x.shape);
    }

    /// <summary>Lets the router learn from the step just taken (Loss-Free's bias update).</summary>
    public void AfterStep()
    {
        if (LastDecision is not null)
            Router.AfterStep(LastDecision);
    }
}
