using System.Buffers.Binary;
using System.Numerics;

namespace Moe.Actors.Serialization;

/// <summary>CRC-32C (Castagnoli) of a payload, eight bytes at a time where the processor has the instruction.</summary>
internal static class Checksum
{
    public static uint Of(ReadOnlySpan<byte> bytes)
    {
        var crc = uint.MaxValue;
        var k = 0;
        for (; k + 8 <= bytes.Length; k += 8)
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(bytes[k..]));
        for (; k < bytes.Length; k++)
            crc = BitOperations.Crc32C(crc, bytes[k]);
        return ~crc;
    }
}
