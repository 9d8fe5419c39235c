using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Moe.Model.Network;

/// <summary>x / sqrt(mean(x^2) + eps) * weight.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double _epsilon;

    public RmsNorm(int dim, double epsilon) : base(nameof(RmsNorm))
    {
        weight = nn.Parameter(ones(dim));
        _epsilon = epsilon;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) =>
        x * (x.pow(2).mean([-1], keepdim: true) + _epsilon).rsqrt() * weight;
}
