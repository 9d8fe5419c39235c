using Moe.Model.Devices;
using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Network;

/// <summary>Rotary position embeddings (RoPE): rotates pairs of query/key features by position-dependent angles.</summary>
public sealed class Rotary : IDisposable
{
    private readonly Tensor _cos; // [context, headDim / 2]
    private readonly Tensor _sin;

    public Rotary(int headDim, int context, double theta)
    {
        using var scope = NewDisposeScope();
        using var start = 0.ToScalar(); // held Scalars: see KeptScalars
        using var stop = headDim.ToScalar();
        using var step = 2.ToScalar();
        using var positions = context.ToScalar();
        var exponents = arange(start, stop, step, dtype: ScalarType.Float32).div(stop).neg();
        var frequencies = pow(tensor(theta), exponents);
        var angles = outer(arange(positions, dtype: ScalarType.Float32), frequencies);
        _cos = angles.cos().DetachFromDisposeScope();
        _sin = angles.sin().DetachFromDisposeScope();
    }

    /// <summary>x: [batch, heads, time, headDim]; features are rotated in (first half, second half) pairs.</summary>
    public Tensor Apply(Tensor x)
    {
        var time = x.shape[2];
        var half = x.shape[3] / 2;
        var cos = _cos.narrow(0, 0, time).to(x.dtype, x.device);
        var sin = _sin.narrow(0, 0, time).to(x.dtype, x.device);
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        return cat([(x1 * cos) - (x2 * sin), (x1 * sin).Plus(x2 * cos)], -1);
    }

    public void Dispose()
    {
        _cos.Dispose();
        _sin.Dispose();
    }
}
