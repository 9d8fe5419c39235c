using Moe.Model.Training;

namespace Moe.Model.Network;

/// <summary>
/// Named model shapes with the training settings that suit them. The paper's models (16 experts, 0.3B; 64
/// experts, 1.1B) are scaled down to what two CPU cores train in minutes; expert counts and K are kept.
/// </summary>
public static class ModelPresets
{
    public sealed record Preset(string Name, string Description, MoeModelConfig Model, TrainingConfig Training);

    public static IReadOnlyList<Preset> All { get; } =
    [
        new("tiny", "tests and smoke runs: seconds",
            new MoeModelConfig
            {
                VocabSize = 512, ContextLength = 32, Dim = 32, Layers = 2, Heads = 2,
                Experts = 4, TopK = 2, ExpertHidden = 32, DenseHidden = 64, AuxLossAlpha = 0.1f,
            },
            new TrainingConfig { Steps = 60, BatchSize = 8, LearningRate = 3e-3, WarmupSteps = 5, EvaluationBatches = 4 }),
        new("small-16e", "16 routed experts, top-2 (the paper's 16-expert shape, scaled to a CPU)",
            new MoeModelConfig
            {
                VocabSize = 8192, ContextLength = 128, Dim = 128, Layers = 4, Heads = 4,
                Experts = 16, TopK = 2, ExpertHidden = 256, DenseHidden = 512, AuxLossAlpha = 0.1f,
            },
            new TrainingConfig { Steps = 600, BatchSize = 16, LearningRate = 2e-3, WarmupSteps = 30, EvaluationInterval = 100, EvaluationBatches = 16 }),
        new("small-64e", "64 fine-grained routed experts, top-8 (the paper's 64-expert shape, scaled)",
            new MoeModelConfig
            {
                VocabSize = 8192, ContextLength = 128, Dim = 128, Layers = 4, Heads = 4,
                Experts = 64, TopK = 8, ExpertHidden = 64, DenseHidden = 512, AuxLossAlpha = 0.1f,
            },
            new TrainingConfig { Steps = 600, BatchSize = 16, LearningRate = 2e-3, WarmupSteps = 30, EvaluationInterval = 100, EvaluationBatches = 16 }),
    ];

    public static Preset Get(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown preset '{name}'. Use one of: {string.Join(", ", All.Select(p => p.Name))}.", nameof(name));
}
