using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Moe.Model.Network;

/// <summary>Causal multi-head self-attention with rotary embeddings, through scaled_dot_product_attention.</summary>
public sealed class Attention : nn.Module<Tensor, Tensor>
{
    private readonly Linear qkv;
    private readonly Linear output;
    private readonly Rotary _rotary;
    private readonly int _heads;

    public Attention(MoeModelConfig config, Rotary rotary) : base(nameof(Attention))
    {
        qkv = nn.Linear(config.Dim, 3 * config.Dim, hasBias: false);
        output = nn.Linear(config.Dim, config.Dim, hasBias: false);
        _rotary = rotary;
        _heads = config.Heads;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var (batch, time, dim) = (x.shape[0], x.shape[1], x.shape[2]);
        var parts = qkv.forward(x).view(batch, time, 3, _heads, dim / _heads).permute(2, 0, 3, 1, 4); // [3, B, H, T, hd]
        var q = _rotary.Apply(parts[0]);
        var k = _rotary.Apply(parts[1]);
        var attended = nn.functional.scaled_dot_product_attention(q, k, parts[2], is_casual: true);
        return output.forward(attended.transpose(1, 2).reshape(batch, time, dim));
    }
}
