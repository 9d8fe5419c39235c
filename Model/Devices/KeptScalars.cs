using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Devices;

/// <summary>
/// Tensor arithmetic whose Scalars outlive the native call. TorchSharp turns a number, and the alpha of 1 behind
/// every <c>a + b</c>, into a Scalar that nothing references once its handle is passed on: a garbage collection
/// during the call can run its finalizer, which frees it while libtorch still reads it, and the op fails ("alpha
/// must not be a floating point number", "Expected false to be true") or reads another number. The build bans
/// those calls (build/BannedSymbols.txt); code uses these, or a Scalar it holds with <c>using</c>, instead.
/// </summary>
public static class KeptScalars
{
    /// <summary>1, the alpha of a sum. A static field is a root, so it is never finalised.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>a + b.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a += b.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>a * factor.</summary>
    public static Tensor Times(this Tensor a, double factor)
    {
        using var scalar = factor.ToScalar();
        return a.mul(scalar);
    }

    /// <summary>0, 1, ..., count - 1 as int64 on the device.</summary>
    public static Tensor Indices(long count, Device device)
    {
        using var stop = count.ToScalar();
        return arange(stop, dtype: ScalarType.Int64, device: device);
    }
}
