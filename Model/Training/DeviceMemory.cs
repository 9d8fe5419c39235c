using System.Runtime.InteropServices;

namespace Moe.Model.Training;

/// <summary>
/// How much memory a training device offers. The CPU: the container's limit or the physical memory, as the .NET
/// runtime sees it. A GPU: NVML's total for it where the NVIDIA driver is installed (TorchSharp has no CUDA memory
/// query), else the size configured for it (Trainer:DeviceMemory), else unknown.
/// </summary>
public static partial class DeviceMemory
{
    /// <param name="device">cpu, cuda or cuda:N (already resolved from auto).</param>
    /// <param name="configured">Trainer:DeviceMemory in bytes, for GPUs NVML cannot report; 0: none.</param>
    /// <returns>The bytes, and where the figure comes from; null bytes when unknown.</returns>
    public static (long? Bytes, string Source) Of(string device, long configured)
    {
        if (device.StartsWith("cpu", StringComparison.OrdinalIgnoreCase))
            return (GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, "the container limit or physical memory");
        var index = device.Contains(':', StringComparison.Ordinal) ? uint.Parse(device[(device.IndexOf(':', StringComparison.Ordinal) + 1)..], System.Globalization.CultureInfo.InvariantCulture) : 0;
        if (Nvml(index) is { } total)
            return (total, $"NVML, GPU {index}");
        return configured > 0 ? (configured, "Trainer:DeviceMemory") : (null, "unknown: no NVML and no Trainer:DeviceMemory");
    }

    private static long? Nvml(uint index)
    {
        try
        {
            if (NativeMethods.nvmlInit_v2() != 0)
                return null;
            try
            {
                return NativeMethods.nvmlDeviceGetHandleByIndex_v2(index, out var handle) == 0 && NativeMethods.nvmlDeviceGetMemoryInfo(handle, out var memory) == 0
                    ? (long)memory.Total
                    : null;
            }
            finally
            {
                _ = NativeMethods.nvmlShutdown();
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null; // no NVIDIA driver on this machine
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct NvmlMemory
    {
        public ulong Total;
        public ulong Free;
        public ulong Used;
    }

    private static partial class NativeMethods
    {
        private const string Library = "libnvidia-ml.so.1";

        [LibraryImport(Library)]
        internal static partial int nvmlInit_v2();

        [LibraryImport(Library)]
        internal static partial int nvmlShutdown();

        [LibraryImport(Library)]
        internal static partial int nvmlDeviceGetHandleByIndex_v2(uint index, out IntPtr device);

        [LibraryImport(Library)]
        internal static partial int nvmlDeviceGetMemoryInfo(IntPtr device, out NvmlMemory memory);
    }
}
