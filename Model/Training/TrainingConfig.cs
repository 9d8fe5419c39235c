namespace Moe.Model.Training;

/// <summary>Optimisation and bookkeeping settings of one training run.</summary>
public sealed record TrainingConfig
{
    public int Steps { get; init; } = 200;

    /// <summary>Sequences per micro-batch: one forward and backward pass.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Micro-batches whose gradients add up to one optimiser step: a batch too large for memory, in parts.</summary>
    public int GradientAccumulation { get; init; } = 1;

    /// <summary>Sequences per optimiser step.</summary>
    public int StepBatch => BatchSize * GradientAccumulation;

    public double LearningRate { get; init; } = 3e-3;

    /// <summary>Cosine decay ends at LearningRate * MinLearningRateRatio.</summary>
    public double MinLearningRateRatio { get; init; } = 0.1;

    public int WarmupSteps { get; init; } = 20;

    public double WeightDecay { get; init; } = 0.1;

    public double GradientClip { get; init; } = 1.0;

    public int Seed { get; init; } = 1;

    /// <summary>Validate every this many steps (0: only at the end).</summary>
    public int EvaluationInterval { get; init; }

    /// <summary>Validation batches per evaluation (the first ones of the validation split, in order).</summary>
    public int EvaluationBatches { get; init; } = 8;

    /// <summary>"cpu", "cuda", "cuda:N", or "auto" (the first GPU TorchSharp finds, else the CPU).</summary>
    public string Device { get; init; } = "auto";

    /// <summary>
    /// On a CUDA device, let matrix products use TF32 where the GPU has it (libtorch's switch is process-wide:
    /// every CUDA loop of a process should agree). Parameters, gradients and AdamW's state stay float32.
    /// </summary>
    public bool AllowTf32 { get; init; } = true;

    public void Validate()
    {
        if (Steps < 1)
            throw new ArgumentException($"Steps must be at least 1, got {Steps}.", nameof(Steps));
        if (BatchSize < 1)
            throw new ArgumentException($"BatchSize must be at least 1, got {BatchSize}.", nameof(BatchSize));
        if (GradientAccumulation < 1)
            throw new ArgumentException($"GradientAccumulation must be at least 1, got {GradientAccumulation}.", nameof(GradientAccumulation));
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
            throw new ArgumentException($"LearningRate must be positive and finite, got {LearningRate}.", nameof(LearningRate));
        if (MinLearningRateRatio is < 0 or > 1)
            throw new ArgumentException($"MinLearningRateRatio must be in [0, 1], got {MinLearningRateRatio}.", nameof(MinLearningRateRatio));
        if (WarmupSteps < 0)
            throw new ArgumentException($"WarmupSteps must be 0 or more, got {WarmupSteps}.", nameof(WarmupSteps));
        if (EvaluationInterval < 0 || EvaluationBatches < 1)
            throw new ArgumentException("EvaluationInterval must be >= 0 and EvaluationBatches >= 1.");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay))
            throw new ArgumentException($"WeightDecay must be 0 or more and finite, got {WeightDecay}.", nameof(WeightDecay));
        TrainingDevice.Resolve(Device);
        if (!(GradientClip > 0))
            throw new ArgumentException($"GradientClip must be positive, got {GradientClip}.", nameof(GradientClip));
    }
}
