using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace Moe.Model.Training;

public static partial class TrainingDevice
{
    /// <summary>Whether <paramref name="name"/> is a device name <see cref="Resolve"/> knows (whatever this machine has).</summary>
    public static bool IsName(string name) => DeviceName().IsMatch(name);

    /// <summary>Turns a device name into a TorchSharp device; "auto" prefers CUDA when a GPU is present.</summary>
    public static Device Resolve(string name)
    {
        if (!IsName(name))
            throw new ArgumentException($"Unknown device '{name}'. Use auto, cpu, cuda or cuda:N.", nameof(name));
        if (string.Equals(name, "auto", StringComparison.OrdinalIgnoreCase))
            return cuda.is_available() ? CUDA : CPU;
        if (string.Equals(name, "cpu", StringComparison.OrdinalIgnoreCase))
            return CPU;
        if (!cuda.is_available())
            throw new ArgumentException($"Device '{name}' was asked for, but TorchSharp finds no CUDA device (build with -p:TorchBackend=cuda on a machine with a GPU).", nameof(name));
        return device(name.ToLowerInvariant());
    }

    [GeneratedRegex(@"^(auto|cpu|cuda(:[0-9]+)?)\z", RegexOptions.IgnoreCase)]
    private static partial Regex DeviceName();
}
