using static TorchSharp.torch;

namespace Moe.Model.Network;

/// <summary>Pre-norm transformer block: x + attention(norm(x)), then x + feed-forward(norm(x)).</summary>
public sealed class Block : nn.Module<Tensor, Tensor>
{
    private readonly RmsNorm attentionNorm;
    private readonly Attention attention;
    private readonly RmsNorm feedForwardNorm;
    private readonly nn.Module<Tensor, Tensor> feedForward;

    public Block(MoeModelConfig config, Rotary rotary, bool dense) : base(nameof(Block))
    {
        attentionNorm = new RmsNorm(config.Dim, config.NormEpsilon);
        attention = new Attention(config, rotary);
        feedForwardNorm = new RmsNorm(config.Dim, config.NormEpsilon);
        feedForward = dense ? new SwiGlu(config.Dim, config.DenseHidden) : new MoeFeedForward(config);
        RegisterComponents();
    }

    /// <summary>The MoE feed-forward of this block, or null for a dense block.</summary>
    public MoeFeedForward? Moe => feedForward as MoeFeedForward;

    public override Tensor forward(Tensor x)
    {
        x = x + attention.forward(attentionNorm.forward(x));
        return x + feedForward.forward(feedForwardNorm.forward(x));
    }
}
