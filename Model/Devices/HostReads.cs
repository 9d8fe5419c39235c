using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Devices;

/// <summary>
/// The one way a training step reads tensor values on the host. On a GPU each such read waits for all the work
/// queued before it, so a read per layer leaves the device idle between layers; every read goes through here and
/// is counted, on the thread that makes it (a step runs on one thread), so that tests and the step-profile
/// benchmark hold a step to its budget. The C# CPU kernel reads its inputs in place; those reads count apart,
/// as a GPU never makes them.
/// </summary>
public static class HostReads
{
    [ThreadStatic]
    private static long t_reads;

    [ThreadStatic]
    private static long t_kernelReads;

    /// <summary>Reads of device values made on this thread so far.</summary>
    public static long Count => t_reads;

    /// <summary>Reads the C# CPU kernel made on this thread so far (CPU tensors only).</summary>
    public static long KernelCount => t_kernelReads;

    /// <summary>Copies a tensor's values to a host array.</summary>
    public static T[] ToArray<T>(Tensor tensor) where T : unmanaged
    {
        t_reads++;
        using var host = tensor.cpu();
        return host.data<T>().ToArray();
    }

    /// <summary>The value of a one-element tensor.</summary>
    public static T Item<T>(Tensor tensor) where T : unmanaged
    {
        t_reads++;
        return tensor.item<T>();
    }

    /// <summary>Whether every value is finite (one read).</summary>
    public static bool AllFinite(Tensor tensor)
    {
        using var finite = tensor.isfinite().all();
        return Item<bool>(finite);
    }

    /// <summary>A CPU tensor's float values in place, for the C# kernel; the tensor must be contiguous and outlive the span.</summary>
    public static ReadOnlySpan<float> KernelFloats(Tensor cpuTensor)
    {
        if (cpuTensor.device_type != DeviceType.CPU || !cpuTensor.is_contiguous() || cpuTensor.dtype != ScalarType.Float32)
            throw new ArgumentException("The CPU kernel reads contiguous float32 CPU tensors only.", nameof(cpuTensor));
        t_kernelReads++;
        return MemoryMarshal.Cast<byte, float>(cpuTensor.bytes);
    }
}
