using System.Runtime.InteropServices;
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
            writer.Write(MemoryMarshal.AsBytes(host.data<float>().ToArray().AsSpan()));
        }
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Reads every tensor (on the CPU). The caller owns and disposes them.</summary>
    public static List<(string Name, Tensor Value)> Load(string path)
    {
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream, Encoding.UTF8);
        try
        {
            if (reader.ReadString() != Magic)
                throw new InvalidDataException($"{path} is not a parameter file.");
            var count = reader.ReadInt32();
            var tensors = new List<(string, Tensor)>(count);
            for (var k = 0; k < count; k++)
            {
                var name = reader.ReadString();
                var shape = new long[reader.ReadInt32()];
                for (var d = 0; d < shape.Length; d++)
                    shape[d] = reader.ReadInt64();
                var elements = shape.Aggregate(1L, (a, b) => a * b);
                var values = MemoryMarshal.Cast<byte, float>(reader.ReadBytes(checked((int)(elements * 4)))).ToArray();
                if (values.Length != elements)
                    throw new InvalidDataException($"{path} ends inside tensor {name}.");
                tensors.Add((name, tensor(values, shape)));
            }
            if (stream.Position != stream.Length)
                throw new InvalidDataException($"{path} has {stream.Length - stream.Position} bytes after its last tensor.");
            return tensors;
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{path} is truncated.", e);
        }
    }

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
