using System.Runtime.InteropServices;

namespace Moe.Model.Training.Rounds;

/// <summary>
/// bfloat16 as the upper half of a float32's bits, rounded to nearest even (NaN stays NaN). In managed code over
/// the tensors' own memory: no libtorch kernel, so any thread may convert, and the round trip is exact for values
/// already rounded.
/// </summary>
public static class BFloat16
{
    public static ushort Of(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
            return (ushort)((bits >> 16) | 0x40); // a quiet NaN, whatever its payload
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    public static float ToSingle(ushort value) => BitConverter.UInt32BitsToSingle((uint)value << 16);

    public static void Encode(ReadOnlySpan<float> values, Span<ushort> into)
    {
        for (var k = 0; k < values.Length; k++)
            into[k] = Of(values[k]);
    }

    public static void Decode(ReadOnlySpan<ushort> values, Span<float> into)
    {
        for (var k = 0; k < values.Length; k++)
            into[k] = ToSingle(values[k]);
    }

    /// <summary>Rounds float32 values to the nearest bfloat16, in place: what a delta sent as bfloat16 arrives as.</summary>
    public static void Round(Span<float> values)
    {
        for (var k = 0; k < values.Length; k++)
            values[k] = ToSingle(Of(values[k]));
    }

    /// <summary>Every tensor of a set of contiguous float32 CPU tensors (loaded files, deltas), rounded in place.</summary>
    public static void Round(ParameterSet tensors)
    {
        foreach (var (_, value) in tensors)
            Round(MemoryMarshal.Cast<byte, float>(value.bytes));
    }
}
