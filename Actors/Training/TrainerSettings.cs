using Moe.Model.Training;

namespace Moe.Actors.Training;

/// <summary>The trainers of one node. Bound from configuration (section "Trainer").</summary>
public sealed record TrainerSettings
{
    /// <summary>Trainer actors on this node; 0: one per GPU when there are any, else one per core (see <see cref="DevicePolicy"/>).</summary>
    public int Count { get; init; } = 1;

    /// <summary>auto, cpu, cuda or cuda:N; with several CUDA trainers, trainer k takes cuda:k.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>
    /// Let CUDA matrix products and convolutions use TF32 on GPUs that have it (Ampere and later): about a float16's
    /// precision in the products' inputs, float32 everywhere else. Ignored on the CPU.
    /// </summary>
    public bool AllowTf32 { get; init; } = true;

    /// <summary>libtorch threads per trainer; 0: the node's cores shared out among its trainers (at least 1 each).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>The longest a step waits for the global q its staleness bound asks for before going on with its own.</summary>
    public TimeSpan StalenessWait { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A step also waits at most this fraction of the trainer's recent step time, so that a GPU's short steps never
    /// idle for long on a late q (the step goes on with its own and counts as stale); 0: only <see cref="StalenessWait"/>.
    /// </summary>
    public double StalenessWaitFraction { get; init; } = 0.5;

    /// <summary>Bytes of one GPU, for the memory plan where NVML cannot tell (no NVIDIA driver library); 0: none.</summary>
    public long DeviceMemory { get; init; }

    /// <summary>How often a trainer announces itself to the coordinator (which may have moved).</summary>
    public TimeSpan RegisterInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a step may wait for q, given the trainer's recent step time (null before its first step).</summary>
    public TimeSpan WaitForQ(TimeSpan? recentStep) =>
        StalenessWaitFraction > 0 && recentStep is { } step && step * StalenessWaitFraction < StalenessWait
            ? step * StalenessWaitFraction
            : StalenessWait;

    public void Validate()
    {
        if (Count < 0)
            throw new ArgumentException($"Trainer:Count = {Count} is invalid: use 0 (one per GPU, else one per core) or more.");
        if (!TrainingDevice.IsName(Device))
            throw new ArgumentException($"Trainer:Device = {Device} is invalid: use auto, cpu, cuda or cuda:N.");
        if (IntraOpThreads < 0)
            throw new ArgumentException($"Trainer:IntraOpThreads = {IntraOpThreads} is invalid: use 0 (cores shared out among the trainers) or more.");
        if (DeviceMemory < 0)
            throw new ArgumentException($"Trainer:DeviceMemory = {DeviceMemory} is invalid: use 0 (ask NVML) or the bytes of one GPU.");
        if (StalenessWait < TimeSpan.Zero)
            throw new ArgumentException($"Trainer:StalenessWait = {StalenessWait} is invalid: use 0 or more.");
        if (!(StalenessWaitFraction >= 0) || double.IsInfinity(StalenessWaitFraction))
            throw new ArgumentException($"Trainer:StalenessWaitFraction = {StalenessWaitFraction} is invalid: use 0 (only StalenessWait) or a positive fraction of a step.");
        if (RegisterInterval <= TimeSpan.Zero)
            throw new ArgumentException($"Trainer:RegisterInterval = {RegisterInterval} is invalid: use a positive duration.");
    }
}
