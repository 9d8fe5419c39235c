using Moe.Model.Devices;
using static TorchSharp.torch;

namespace Moe.Model.Network;

/// <summary>Pre-norm transformer block: x + attention(norm(x)), then x + feed-forward(norm(x)).</summary>
public sealed class Block : nn.Module<Tensor, (Tensor Output, LayerRouting? Routing)>
{
    private readonly RmsNorm attentionNorm;
    private readonly Attention attention;
    private readonly RmsNorm feedForwardNorm;
    private readonly nn.Module feedForward; // SwiGlu or MoeFeedForward: one name, so parameter names do not depend on the kind

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

    /// <summary>The block's output, and how its MoE layer routed (null for a dense block).</summary>
    public override (Tensor Output, LayerRouting? Routing) forward(Tensor x)
    {
        x = x.Plus(attention.forward(attentionNorm.forward(x)));
        var normed = feedForwardNorm.forward(x);
        if (Moe is { } moe)
        {
            var (output, routing) = moe.forward(normed);
            return (x.Plus(output), routing);
        }
        return (x.Plus(((SwiGlu)feedForward).forward(normed)), null);
    }
}
