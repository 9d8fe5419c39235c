using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace Moe.Model.IO;

/// <summary>One tensor of a safetensors file: its shape and its float32 values in row-major order.</summary>
public sealed record SafeTensor(long[] Shape, float[] Values);

/// <summary>
/// The safetensors format (Hugging Face's, read by PyTorch, JAX and numpy alike): an 8-byte little-endian header
/// length, a JSON header mapping each tensor's name to its dtype, shape and byte range (<c>data_offsets</c>, relative
/// to the end of the header), padded with spaces to 8 bytes, then the tensors' raw little-endian bytes in that order.
/// Only float32 ("F32") tensors are written and read; that is all a model here holds.
/// </summary>
public static class SafeTensors
{
    private const string Metadata = "__metadata__";

    /// <summary>Headers larger than this are refused as damaged rather than allocated.</summary>
    private const long MaxHeaderBytes = 100_000_000;

    /// <summary>Writes the tensors (any device; float32) in the given order, with string metadata.</summary>
    public static void Write(Stream stream, IReadOnlyList<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors are little-endian; this machine is not.");
        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            json.WriteStartObject(Metadata);
            foreach (var (key, value) in metadata)
                json.WriteString(key, value);
            json.WriteEndObject();
            long offset = 0;
            foreach (var (name, value) in tensors)
            {
                if (value.dtype != ScalarType.Float32)
                    throw new ArgumentException($"Tensor {name} is {value.dtype}; only float32 is written.", nameof(tensors));
                var bytes = value.numel() * sizeof(float);
                json.WriteStartObject(name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (var size in value.shape)
                    json.WriteNumberValue(size);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        while (header.Length % 8 != 0)
            header.WriteByte((byte)' ');

        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        header.Position = 0;
        header.CopyTo(stream);
        foreach (var (_, value) in tensors)
        {
            using var host = value.detach().cpu().contiguous();
            stream.Write(host.bytes);
        }
    }

    /// <summary>Reads every tensor and the metadata; a file that breaks the format is <see cref="InvalidDataException"/>.</summary>
    public static (IReadOnlyDictionary<string, SafeTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> prefix = stackalloc byte[8];
        if (stream.ReadAtLeast(prefix, 8, throwOnEndOfStream: false) < 8)
            throw Damaged(path, "it is shorter than the 8-byte header length");
        var headerBytes = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerBytes > (ulong)Math.Min(MaxHeaderBytes, stream.Length - 8))
            throw Damaged(path, $"its header length {headerBytes} does not fit the file of {stream.Length} bytes");
        var header = new byte[headerBytes];
        stream.ReadExactly(header);
        var dataStart = 8 + (long)headerBytes;

        var tensors = new Dictionary<string, SafeTensor>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var json = JsonDocument.Parse(header);
            foreach (var entry in json.RootElement.EnumerateObject())
            {
                if (entry.Name == Metadata)
                {
                    foreach (var item in entry.Value.EnumerateObject())
                        metadata[item.Name] = item.Value.GetString() ?? "";
                    continue;
                }
                var dtype = entry.Value.GetProperty("dtype").GetString();
                if (dtype != "F32")
                    throw Damaged(path, $"tensor {entry.Name} is {dtype}; only F32 is read");
                long[] shape = [.. entry.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64())];
                long[] range = [.. entry.Value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64())];
                var count = shape.Aggregate(1L, (a, b) => a * b);
                if (range.Length != 2 || range[0] < 0 || range[1] - range[0] != count * sizeof(float) || dataStart + range[1] > stream.Length)
                    throw Damaged(path, $"tensor {entry.Name}'s byte range [{string.Join(", ", range)}] does not hold its shape [{string.Join(", ", shape)}] inside the file");
                var values = new float[count];
                stream.Position = dataStart + range[0];
                stream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
                tensors[entry.Name] = new SafeTensor(shape, values);
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw Damaged(path, $"its header is not valid safetensors JSON ({e.Message})");
        }
        return (tensors, metadata);
    }

    private static InvalidDataException Damaged(string path, string problem) => new($"{path} is not a readable safetensors file: {problem}.");
}
