using Moe.Model.Devices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Moe.Model.Network;

/// <summary>x / sqrt(mean(x^2) + eps) * weight.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;

    // Held as a field, for the reason in KeptScalars.
    private readonly Scalar _epsilon;

    public RmsNorm(int dim, double epsilon) : base(nameof(RmsNorm))
    {
        weight = nn.Parameter(ones(dim));
        _epsilon = epsilon.ToScalar();
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) =>
        x * x.square().mean([-1], keepdim: true).add(_epsilon, KeptScalars.One).rsqrt() * weight;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _epsilon.Dispose();
        base.Dispose(disposing);
    }
}
