using System.Runtime.InteropServices;
using System.Text;
using static TorchSharp.torch;

namespace Moe.Model.Training.Rounds;

/// <summary>
/// Named float32 tensors in one file: the global parameters, a trainer's delta or the outer momentum of a
/// round. A delta may be stored as bfloat16 (<see cref="DeltaPrecision"/>); it loads as float32 all the same. Names
/// and shapes are checked on load against the model they go into, so a file of another model shape is refused with
/// the first difference named.
/// </summary>
public static class ParameterFile
{
    private const string Magic = "MOEPARAMS1";
    private const string HalfMagic = "MOEPARAMH1"; // the values as bfloat16

    // Values convert in chunks of this many, so a bfloat16 file needs no second copy of a tensor.
    private const int Chunk = 1 << 16;

    /// <summary>Writes a file (not synced: what must survive goes through the blob store, which syncs).</summary>
    public static void Save(string path, IEnumerable<NamedTensor> tensors)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Save(stream, tensors);
    }

    /// <summary>
    /// Writes the tensors straight from their memory to <paramref name="stream"/>. Needs no libtorch kernel for
    /// contiguous float32 CPU tensors, so it may run on any thread.
    /// </summary>
    public static void Save(Stream stream, IEnumerable<NamedTensor> tensors, DeltaPrecision precision = DeltaPrecision.Fp32)
    {
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        var list = tensors.ToList();
        var half = precision == DeltaPrecision.Bf16;
        writer.Write(half ? HalfMagic : Magic);
        writer.Write(list.Count);
        foreach (var (name, value) in list)
        {
            using var host = value.detach().to(ScalarType.Float32).cpu().contiguous();
            writer.Write(name);
            writer.Write(host.shape.Length);
            foreach (var size in host.shape)
                writer.Write(size);
            writer.Flush();
            if (half)
                WriteHalves(stream, MemoryMarshal.Cast<byte, float>(Memory(host, name)));
            else
                stream.Write(Memory(host, name));
        }
        writer.Flush();
    }

    private static void WriteHalves(Stream stream, ReadOnlySpan<float> values)
    {
        var halves = new ushort[Math.Min(Chunk, values.Length)];
        for (var start = 0; start < values.Length; start += halves.Length)
        {
            var count = Math.Min(halves.Length, values.Length - start);
            BFloat16.Encode(values.Slice(start, count), halves);
            stream.Write(MemoryMarshal.AsBytes(halves.AsSpan(0, count)));
        }
    }

    private static bool ReadHalves(Stream stream, Span<float> into)
    {
        var halves = new ushort[Math.Min(Chunk, into.Length)];
        for (var start = 0; start < into.Length; start += halves.Length)
        {
            var count = Math.Min(halves.Length, into.Length - start);
            var bytes = MemoryMarshal.AsBytes(halves.AsSpan(0, count));
            if (stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false) != bytes.Length)
                return false;
            BFloat16.Decode(halves.AsSpan(0, count), into.Slice(start, count));
        }
        return true;
    }

    /// <summary>Reads every tensor (on the CPU). The caller owns and disposes them.</summary>
    public static ParameterSet Load(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        return Load(stream, path);
    }

    /// <summary>
    /// Reads every tensor from <paramref name="stream"/> (named <paramref name="source"/> in errors) into fresh CPU
    /// memory, to the stream's end. Needs no libtorch kernel, so it may run on any thread. The caller owns and
    /// disposes the tensors; if anything fails, none is left behind.
    /// </summary>
    public static ParameterSet Load(Stream stream, string source)
    {
        using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        var tensors = new List<NamedTensor>();
        try
        {
            var magic = MagicOf(reader);
            if (magic is not (Magic or HalfMagic))
                throw new InvalidDataException($"{source} is not a parameter file.");
            var stored = magic == HalfMagic ? 2.0 : 4.0; // bytes per value in the file
            var count = reader.ReadInt32();
            for (var k = 0; k < count; k++)
            {
                var name = reader.ReadString();
                var shape = new long[reader.ReadInt32()];
                for (var d = 0; d < shape.Length; d++)
                    shape[d] = reader.ReadInt64();
                // A damaged header must not ask for an allocation the file cannot fill.
                if (shape.Any(size => size < 0) || shape.Aggregate(stored, (bytes, size) => bytes * size) > stream.Length - stream.Position)
                    throw new InvalidDataException($"{source} ends inside tensor {name}.");
                var values = empty(shape, ScalarType.Float32);
                tensors.Add(new(name, values)); // disposed by the caller, or below if the file is bad
                var memory = Memory(values, name);
                var whole = magic == HalfMagic
                    ? ReadHalves(stream, MemoryMarshal.Cast<byte, float>(memory))
                    : stream.ReadAtLeast(memory, memory.Length, throwOnEndOfStream: false) == memory.Length;
                if (!whole)
                    throw new InvalidDataException($"{source} ends inside tensor {name}.");
            }
            if (stream.Position != stream.Length)
                throw new InvalidDataException($"{source} has {stream.Length - stream.Position} bytes after its last tensor.");
            return new ParameterSet(tensors);
        }
        catch (Exception e)
        {
            foreach (var (_, value) in tensors)
                value.Dispose();
            if (e is EndOfStreamException)
                throw new InvalidDataException($"{source} is truncated.", e);
            throw;
        }
    }

    private static string? MagicOf(BinaryReader reader)
    {
        try
        {
            return reader.ReadString();
        }
        catch (EndOfStreamException)
        {
            return null; // a short file of another kind
        }
    }

    /// <summary>
    /// A contiguous CPU tensor's own memory: files are read into and written from it, with no managed copy between.
    /// </summary>
    private static Span<byte> Memory(Tensor values, string name) =>
        values.NumberOfElements * values.ElementSize <= Array.MaxLength
            ? values.bytes
            : throw new NotSupportedException($"Tensor {name} holds more than 2 GiB, more than one parameter file entry can.");

    /// <summary>Copies loaded tensors into a module's parameters, checking names and shapes one by one.</summary>
    public static void CopyInto(TorchSharp.torch.nn.Module module, IReadOnlyList<NamedTensor> tensors)
    {
        var parameters = CheckMatches(module, tensors, "the file");
        using var noGrad = no_grad();
        for (var k = 0; k < parameters.Count; k++)
            parameters[k].parameter.copy_(tensors[k].Value);
    }

    /// <summary>
    /// The module's parameters, once every one of <paramref name="tensors"/> (from <paramref name="source"/>) has
    /// the name and shape of the parameter at its place; else what differs first.
    /// </summary>
    public static List<(string name, TorchSharp.Modules.Parameter parameter)> CheckMatches(
        TorchSharp.torch.nn.Module module, IReadOnlyList<NamedTensor> tensors, string source)
    {
        var parameters = module.named_parameters().ToList();
        if (parameters.Count != tensors.Count)
            throw new InvalidDataException($"{char.ToUpperInvariant(source[0])}{source[1..]} has {tensors.Count} tensors; the model has {parameters.Count} parameters.");
        for (var k = 0; k < parameters.Count; k++)
        {
            var (name, parameter) = parameters[k];
            var (otherName, value) = tensors[k];
            if (name != otherName || !parameter.shape.SequenceEqual(value.shape))
                throw new InvalidDataException(
                    $"Parameter {k} is {name} [{string.Join(", ", parameter.shape)}] in the model but {otherName} [{string.Join(", ", value.shape)}] in {source}.");
        }
        return parameters;
    }
}
