using System.Text;
using static TorchSharp.torch;

namespace Moe.Model.Training.Rounds;

/// <summary>
/// Named float32 tensors in one file: the global parameters, a trainer's delta or the outer momentum of a
/// round. Names and shapes are checked on load against the model they go into, so a file of another model shape
/// is refused with the first difference named.
/// </summary>
public static class ParameterFile
{
    private const string Magic = "MOEPARAMS1";

    /// <summary>
    /// Writes a work file that goes into the blob store next. It is not forced to disk: the store makes (and syncs)
    /// its own copy, so a sync here only doubled the disk time of every round.
    /// </summary>
    public static void Save(string path, IEnumerable<(string Name, Tensor Value)> tensors)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        using var writer = new BinaryWriter(stream, Encoding.UTF8);
        var list = tensors.ToList();
        writer.Write(Magic);
        writer.Write(list.Count);
        foreach (var (name, value) in list)
        {
            using var host = value.detach().to(ScalarType.Float32).cpu().contiguous();
            writer.Write(name);
            writer.Write(host.shape.Length);
            foreach (var size in host.shape)
                writer.Write(size);
            writer.Flush();
            stream.Write(Memory(host, name));
        }
    }

    /// <summary>Reads every tensor (on the CPU). The caller owns and disposes them.</summary>
    public static List<(string Name, Tensor Value)> Load(string path)
    {
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream, Encoding.UTF8);
        var tensors = new List<(string, Tensor)>();
        try
        {
            if (MagicOf(reader) != Magic)
                throw new InvalidDataException($"{path} is not a parameter file.");
            var count = reader.ReadInt32();
            for (var k = 0; k < count; k++)
            {
                var name = reader.ReadString();
                var shape = new long[reader.ReadInt32()];
                for (var d = 0; d < shape.Length; d++)
                    shape[d] = reader.ReadInt64();
                // A damaged header must not ask for an allocation the file cannot fill.
                if (shape.Any(size => size < 0) || shape.Aggregate(4.0, (bytes, size) => bytes * size) > stream.Length - stream.Position)
                    throw new InvalidDataException($"{path} ends inside tensor {name}.");
                var values = empty(shape, ScalarType.Float32);
                tensors.Add((name, values)); // disposed by the caller, or below if the file is bad
                var memory = Memory(values, name);
                if (stream.ReadAtLeast(memory, memory.Length, throwOnEndOfStream: false) != memory.Length)
                    throw new InvalidDataException($"{path} ends inside tensor {name}.");
            }
            if (stream.Position != stream.Length)
                throw new InvalidDataException($"{path} has {stream.Length - stream.Position} bytes after its last tensor.");
            return tensors;
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
        {
            foreach (var (_, value) in tensors)
                value.Dispose();
            throw e is InvalidDataException ? e : new InvalidDataException($"{path} is truncated.", e);
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
    public static void CopyInto(TorchSharp.torch.nn.Module module, IReadOnlyList<(string Name, Tensor Value)> tensors)
    {
        var parameters = module.named_parameters().ToList();
        if (parameters.Count != tensors.Count)
            throw new InvalidDataException($"The file has {tensors.Count} tensors; the model has {parameters.Count} parameters.");
        using var noGrad = no_grad();
        for (var k = 0; k < parameters.Count; k++)
        {
            var (name, parameter) = parameters[k];
            var (fileName, value) = tensors[k];
            if (name != fileName || !parameter.shape.SequenceEqual(value.shape))
                throw new InvalidDataException(
                    $"Parameter {k} is {name} [{string.Join(", ", parameter.shape)}] in the model but {fileName} [{string.Join(", ", value.shape)}] in the file.");
            parameter.copy_(value);
        }
    }
}
