using Moe.Model.Devices;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Moe.Model.Network;

/// <summary>
/// A Minimind-style decoder-only MoE language model: token embedding, pre-norm blocks with rotary causal
/// attention and (dense or MoE) SwiGLU feed-forwards, a final RMSNorm, and an output head tied to the embedding.
/// </summary>
public sealed class MoeTransformer : nn.Module<Tensor, Tensor>
{
    private readonly Embedding embedding;
    private readonly ModuleList<Block> blocks;
    private readonly RmsNorm norm;
    private readonly Rotary _rotary;

    public MoeTransformer(MoeModelConfig config) : base(nameof(MoeTransformer))
    {
        config.Validate();
        Config = config;
        _rotary = new Rotary(config.HeadDim, config.ContextLength, config.RopeTheta);
        embedding = nn.Embedding(config.VocabSize, config.Dim);
        blocks = nn.ModuleList([.. Enumerable.Range(0, config.Layers).Select(l => new Block(config, _rotary, dense: l < config.DenseLayers))]);
        norm = new RmsNorm(config.Dim, config.NormEpsilon);
        RegisterComponents();

        // GPT-2 style initialisation: every matrix N(0, 0.02); norms stay at 1.
        using (no_grad())
        {
            foreach (var (_, parameter) in named_parameters())
            {
                if (parameter.dim() >= 2)
                    nn.init.normal_(parameter, 0, 0.02);
            }
        }
        MoeLayers = [.. blocks.Select(b => b.Moe).OfType<MoeFeedForward>()];
    }

    public MoeModelConfig Config { get; }

    public IReadOnlyList<MoeFeedForward> MoeLayers { get; }

    /// <summary>
    /// Every MoE layer routes with its saved q or bias, token by token, without solving on the batch or dropping
    /// (see <see cref="MoeFeedForward.InferenceRouting"/>): what generation and evaluation of a trained model use.
    /// </summary>
    public bool InferenceRouting
    {
        get => MoeLayers.Count > 0 && MoeLayers[0].InferenceRouting;
        set
        {
            foreach (var layer in MoeLayers)
                layer.InferenceRouting = value;
        }
    }

    /// <summary>tokens [batch, time] (int64) to logits [batch, time, vocab].</summary>
    public override Tensor forward(Tensor tokens) => Run(tokens).Logits;

    /// <summary>Logits, and how each MoE layer routed, in depth order.</summary>
    public (Tensor Logits, IReadOnlyList<LayerRouting> Routing) Run(Tensor tokens)
    {
        if (tokens.dim() != 2 || tokens.shape[1] > Config.ContextLength)
            throw new ArgumentException(
                $"Tokens must be [batch, time] with time <= the context length {Config.ContextLength}, got [{string.Join(", ", tokens.shape)}].",
                nameof(tokens));
        var x = embedding.forward(tokens);
        var routing = new List<LayerRouting>(MoeLayers.Count);
        foreach (var block in blocks)
        {
            (x, var layer) = block.forward(x);
            if (layer is not null)
                routing.Add(layer);
        }
        return (norm.forward(x).matmul(embedding.weight!.t()), routing);
    }

    /// <summary>Next-token cross-entropy of a forward pass, plus the routers' auxiliary losses (if any).</summary>
    public (Tensor Total, Tensor LanguageModel, IReadOnlyList<LayerRouting> Routing) Loss(Tensor tokens, Tensor targets)
    {
        var (logits, routing) = Run(tokens);
        var lm = nn.functional.cross_entropy(logits.reshape(-1, Config.VocabSize), targets.reshape(-1));
        var total = lm;
        foreach (var layer in routing)
        {
            if (layer.Decision.AuxLoss is { } aux)
                total = total.Plus(aux);
        }
        return (total, lm, routing);
    }

    /// <summary>Lets every router learn from the step just taken (Loss-Free's bias update).</summary>
    public void AfterStep(IReadOnlyList<LayerRouting> routing)
    {
        for (var k = 0; k < MoeLayers.Count; k++)
            MoeLayers[k].Router.AfterStep(routing[k].Decision);
    }

    /// <summary>A copy of every router's state (q or the bias; null where there is none), on its device.</summary>
    public Tensor?[] RouterStates() => [.. MoeLayers.Select(l => l.Router.State?.clone())];

    /// <summary>Puts back states taken by <see cref="RouterStates"/>.</summary>
    public void RestoreRouterStates(IReadOnlyList<Tensor?> states)
    {
        for (var k = 0; k < states.Count; k++)
        {
            if (states[k] is { } state)
                MoeLayers[k].Router.LoadState(state, checkFinite: false);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _rotary.Dispose();
        base.Dispose(disposing);
    }
}
