using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Moe.Actors.Serialization;

/// <summary>
/// Writes the fields of one payload, little-endian. Float vectors are raw blocks; integer vectors are zigzag
/// varints, because histograms are mostly small counts (a 64 x 1000 summary shrinks from 512 kB to ~64 kB,
/// under Akka.Remote's frame size), and negatives must survive so that validation can name them.
/// </summary>
public sealed class PayloadWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new();

    public void U8(byte value) => Push(value);

    public void Flag(bool value) => Push(value ? (byte)1 : (byte)0);

    public void I32(int value) => I64(value);

    public void I64(long value)
    {
        var zigzag = (ulong)((value << 1) ^ (value >> 63));
        while (zigzag >= 0x80)
        {
            Push((byte)(zigzag | 0x80));
            zigzag >>= 7;
        }
        Push((byte)zigzag);
    }

    public void F32(float value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        _buffer.Write(bytes);
    }

    public void F64(double value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(bytes, value);
        _buffer.Write(bytes);
    }

    public void Text(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        I32(bytes.Length);
        _buffer.Write(bytes);
    }

    public void Floats(float[] values)
    {
        I32(values.Length);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("The wire format is little-endian.");
        _buffer.Write(MemoryMarshal.AsBytes(values.AsSpan()));
    }

    public void Doubles(double[] values)
    {
        I32(values.Length);
        foreach (var value in values)
            F64(value);
    }

    public void Longs(long[] values)
    {
        I32(values.Length);
        foreach (var value in values)
            I64(value);
    }

    public void Strings(IReadOnlyCollection<string> values)
    {
        I32(values.Count);
        foreach (var value in values)
            Text(value);
    }

    private void Push(byte value)
    {
        _buffer.GetSpan(1)[0] = value;
        _buffer.Advance(1);
    }

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> Written => _buffer.WrittenSpan;

    /// <summary>Four bytes, little-endian (the payload's checksum).</summary>
    public void U32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();
}
