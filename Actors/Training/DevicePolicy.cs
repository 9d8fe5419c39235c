using static TorchSharp.torch;

namespace Moe.Actors.Training;

/// <summary>
/// Which trainers a node runs, on which devices and with how many libtorch threads, and whether a job's rounds
/// overlap by default: decided here and nowhere else.
/// </summary>
public static class DevicePolicy
{
    /// <summary>The CUDA devices this process sees.</summary>
    public static int Gpus => cuda.is_available() ? cuda.device_count() : 0;

    /// <summary>
    /// One entry per trainer: Trainer:Count of them, or for 0 one per device (per GPU, else per core). With auto or
    /// cuda and GPUs present, trainer k takes GPU k, and more trainers than GPUs are refused (several trainers share
    /// a GPU only when it is named, cuda:k). Each computes with Trainer:IntraOpThreads threads, or for 0 the node's
    /// cores shared out among its trainers (at least one each).
    /// </summary>
    /// <param name="gpus">The GPUs the node sees (<see cref="Gpus"/>; tests pass any number).</param>
    /// <exception cref="ArgumentException">More trainers than GPUs on auto or cuda.</exception>
    public static IReadOnlyList<(string Device, int IntraOpThreads)> Trainers(TrainerSettings settings, int gpus, int cores)
    {
        var spread = gpus > 0 && (Is(settings.Device, "auto") || Is(settings.Device, "cuda"));
        if (spread && settings.Count > gpus)
        {
            throw new ArgumentException($"Trainer:Count = {settings.Count} is more than the {gpus} GPU{(gpus == 1 ? "" : "s")} this node sees: " +
                $"use 0 (one trainer per GPU) or at most {gpus}, or name one GPU (Trainer:Device = cuda:K) for trainers that share it.");
        }
        var count = settings.Count > 0 ? settings.Count : gpus > 0 ? gpus : cores;
        var threads = settings.IntraOpThreads > 0 ? settings.IntraOpThreads : Math.Max(1, cores / count);
        return [.. Enumerable.Range(0, count).Select(k => (spread ? $"cuda:{k}" : settings.Device, threads))];
    }

    /// <summary>
    /// Rounds overlap (one step) on GPU trainers. On CPU trainers the commit's work (hashing, the outer step) runs
    /// on the trainers' own cores, so overlapping it with their steps stalls them instead of hiding it.
    /// </summary>
    public static int DefaultOverlapSteps(string device, int gpus) => Is(device, "cpu") || (Is(device, "auto") && gpus == 0) ? 0 : 1;

    private static bool Is(string device, string name) => string.Equals(device, name, StringComparison.OrdinalIgnoreCase);
}
