using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Moe.Actors.Serialization;

/// <summary>Reads what <see cref="PayloadWriter"/> wrote; any truncation or bad length fails with a clear error.</summary>
public ref struct PayloadReader(ReadOnlySpan<byte> bytes, string manifest)
{
    private readonly ReadOnlySpan<byte> _bytes = bytes;
    private int _position;

    public byte U8() => Take(1)[0];

    public bool Flag() => U8() switch
    {
        0 => false,
        1 => true,
        var b => throw Corrupt($"a boolean byte of {b}"),
    };

    public int I32()
    {
        var value = I64();
        return value is < int.MinValue or > int.MaxValue ? throw Corrupt($"an int out of range ({value})") : (int)value;
    }

    public long I64()
    {
        ulong zigzag = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            var b = U8();
            zigzag |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
                return (long)(zigzag >> 1) ^ -(long)(zigzag & 1);
        }
        throw Corrupt("a varint longer than 10 bytes");
    }

    public float F32() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));

    public double F64() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

    public string Text() => Encoding.UTF8.GetString(Take(Length(1)));

    public float[] Floats() => MemoryMarshal.Cast<byte, float>(Take(Length(4) * 4)).ToArray();

    public double[] Doubles()
    {
        var values = new double[Length(8)];
        for (var k = 0; k < values.Length; k++)
            values[k] = F64();
        return values;
    }

    public long[] Longs()
    {
        var values = new long[Length(1)];
        for (var k = 0; k < values.Length; k++)
            values[k] = I64();
        return values;
    }

    public string[] Strings()
    {
        var values = new string[Length(1)];
        for (var k = 0; k < values.Length; k++)
            values[k] = Text();
        return values;
    }

    /// <summary>Called after the last field: trailing bytes mean the writer and reader disagree.</summary>
    public readonly void End()
    {
        if (_position != _bytes.Length)
            throw Corrupt($"{_bytes.Length - _position} unread trailing bytes");
    }

    // A length can never exceed the bytes left (each element takes at least minBytes), which stops a corrupt
    // length from allocating gigabytes.
    private int Length(int minBytes)
    {
        var length = I32();
        if (length < 0 || (long)length * minBytes > _bytes.Length - _position)
            throw Corrupt($"a length of {length} with {_bytes.Length - _position} bytes left");
        return length;
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (_position + count > _bytes.Length)
            throw Corrupt("a truncated payload");
        var slice = _bytes.Slice(_position, count);
        _position += count;
        return slice;
    }

    private readonly System.Runtime.Serialization.SerializationException Corrupt(string what) =>
        new System.Runtime.Serialization.SerializationException($"Cannot read a \"{manifest}\" payload: {what}.");
}
