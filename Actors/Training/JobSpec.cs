using Moe.Actors.Balancing;
using Moe.Model.Balancing;
using Moe.Model.Network;
using Moe.Model.Routing;
using Moe.Model.Training;
using Moe.Model.Training.Rounds;

namespace Moe.Actors.Training;

/// <summary>
/// A training job as the coordinator holds it (persisted with the job): the model preset, the data, and the round
/// protocol. Rounds x InnerSteps global steps in all. The job records its resolved model and training
/// configuration when it starts (<see cref="Resolve"/>), so a preset edited later never changes a job that resumes.
/// </summary>
public sealed record JobSpec
{
    public required string JobId { get; init; }

    public string Preset { get; init; } = "small-16e";

    /// <summary>bip (clipped dual, the paper) or qb (Quantile Balancing); both are balanced cluster-wide.</summary>
    public RouterKind Router { get; init; } = RouterKind.Bip;

    /// <summary>Training text (file, folder or jsonl) every trainer can read; null: the Brown Corpus.</summary>
    public string? TextPath { get; init; }

    public int Rounds { get; init; } = 50;

    /// <summary>H: inner AdamW steps per trainer per round. H = 1 is synchronous data parallelism.</summary>
    public int InnerSteps { get; init; } = 10;

    /// <summary>Sequences per inner step per trainer; 0: the preset's.</summary>
    public int BatchSize { get; init; }

    /// <summary>Peak inner learning rate; 0: the preset's.</summary>
    public double InnerLearningRate { get; init; }

    /// <summary>
    /// The outer Nesterov step on the averaged deltas. The default, lr 1 and no momentum, is plain averaging, which
    /// suits short rounds better than DiLoCo's lr 0.7 and momentum 0.9 (made for rounds of hundreds of steps; see
    /// docs/cluster.md, "The outer step").
    /// </summary>
    public double OuterLearningRate { get; init; } = 1.0;

    public double OuterMomentum { get; init; }

    /// <summary>How trainers send their deltas; bfloat16 halves the bytes of every round (the outer step stays float32).</summary>
    public DeltaPrecision DeltaPrecision { get; init; }

    /// <summary>
    /// S: the slices the outer step is cut into, each stepped by its own slice owner (<see cref="OuterSlices"/>);
    /// 0: one outer step on the coordinator; null: decided when the job starts (the trainer nodes then up, if more
    /// than one, else 0), and recorded with it.
    /// </summary>
    public int? Slices { get; init; }

    /// <summary>
    /// S when the job does not give it: one slice per trainer node up, so each owns one. One node steps the parameters
    /// whole, faster, with its trainers' deltas handed over in memory; so does a coordinator that serves the blobs
    /// over HTTP, through which every byte would then pass more often than with the central step.
    /// </summary>
    public static int DefaultSlices(int trainerNodes, bool coordinatorServesBlobs) => trainerNodes > 1 && !coordinatorServesBlobs ? trainerNodes : 0;

    /// <summary>Whether slice owners step the parameters (S > 0); else the coordinator steps them whole.</summary>
    public bool Sliced => Slices > 0;

    /// <summary>Trainers that must finish a round for it to commit (and be present for it to start).</summary>
    public int Quorum { get; init; } = 1;

    /// <summary>A round that has not finished after this long commits with the trainers that did (if a quorum).</summary>
    public TimeSpan RoundTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public int Seed { get; init; } = 1;

    public int HistogramBins { get; init; } = HistogramRange.Default.Bins;

    /// <summary>
    /// A trainer waits for the global q of step t - 1 - MaxStaleness before step t (bounded staleness). The bound a
    /// round uses starts here and rises when trainers wait too long (see <see cref="Protocol.StalenessBound"/>).
    /// </summary>
    public int MaxStaleness { get; init; } = 2;

    /// <summary>
    /// Step t bins its summaries with the window published at the newest commit at or before t - WindowLag. A trainer
    /// that holds q of step t - 1 - MaxStaleness has received every publication up to that one (a balancer's
    /// publications arrive in order), so every trainer of a step picks the same window and their counts add exactly.
    /// </summary>
    public int WindowLag => MaxStaleness + 2;

    /// <summary>
    /// τ: round r + 1 starts while round r commits (its outer step, store and journal write). Trainers take its
    /// first τ steps from where round r ended, then move that progress onto the new global parameters (waiting for
    /// them if need be), all at the same step, as the overlapped outer step of Streaming DiLoCo. 0: every round
    /// waits for the previous one's parameters.
    /// </summary>
    public int OverlapSteps { get; init; } = 1;

    /// <summary>Rounds overlap only when they are longer than the overlap: H = 1 stays synchronous data parallelism.</summary>
    public bool Overlaps => OverlapSteps > 0 && OverlapSteps < InnerSteps;

    // The model's shape and the inner optimiser; null: the preset's.

    public int? Layers { get; init; }

    public int? Dim { get; init; }

    public int? Heads { get; init; }

    public int? VocabSize { get; init; }

    public int? ContextLength { get; init; }

    /// <summary>Leading blocks with a dense feed-forward instead of experts.</summary>
    public int? DenseLayers { get; init; }

    public int? Experts { get; init; }

    /// <summary>K: experts per token.</summary>
    public int? TopK { get; init; }

    public int? ExpertHidden { get; init; }

    public bool? SharedExpert { get; init; }

    public ScoreFunction? ScoreFunction { get; init; }

    /// <summary>Tokens an expert takes per step, as a multiple of its fair share; 0: no limit.</summary>
    public double? CapacityFactor { get; init; }

    public int? WarmupSteps { get; init; }

    /// <summary>Micro-batches of <see cref="BatchSize"/> per optimiser step: a batch too large for memory, in parts.</summary>
    public int? GradientAccumulation { get; init; }

    public double? WeightDecay { get; init; }

    public double? GradientClip { get; init; }

    /// <summary>Every model setting, as recorded when the job started; null: not resolved yet (see <see cref="Model"/>).</summary>
    public MoeModelConfig? ResolvedModel { get; init; }

    /// <summary>Every inner training setting, as recorded when the job started; null: not resolved yet.</summary>
    public TrainingConfig? ResolvedTraining { get; init; }

    /// <summary>The settings a user gives (configuration keys of section Job), as opposed to what is resolved from them.</summary>
    public static IReadOnlyList<string> SettingNames { get; } =
        [.. typeof(JobSpec).GetProperties().Where(p => p.CanWrite && p.Name is not (nameof(ResolvedModel) or nameof(ResolvedTraining))).Select(p => p.Name)];

    /// <summary>The value of the setting <paramref name="name"/> (one of <see cref="SettingNames"/>).</summary>
    public static object? Setting(JobSpec spec, string name) =>
        SettingNames.Contains(name)
            ? typeof(JobSpec).GetProperty(name)!.GetValue(spec)
            : throw new ArgumentException($"Job:{name} is not a job setting: use one of {string.Join(", ", SettingNames)}.", nameof(name));

    /// <summary>The job with its model and training configuration resolved from the preset and the settings.</summary>
    public JobSpec Resolve() => this with { ResolvedModel = Model, ResolvedTraining = Training };

    public ModelPresets.Preset PresetDefinition => ModelPresets.Get(Preset);

    public MoeModelConfig Model => ResolvedModel ?? Shaped(PresetDefinition.Model) with { Router = Router };

    private MoeModelConfig Shaped(MoeModelConfig preset) => preset with
    {
        Layers = Layers ?? preset.Layers,
        Dim = Dim ?? preset.Dim,
        Heads = Heads ?? preset.Heads,
        VocabSize = VocabSize ?? preset.VocabSize,
        ContextLength = ContextLength ?? preset.ContextLength,
        DenseLayers = DenseLayers ?? preset.DenseLayers,
        Experts = Experts ?? preset.Experts,
        TopK = TopK ?? preset.TopK,
        ExpertHidden = ExpertHidden ?? preset.ExpertHidden,
        SharedExpert = SharedExpert ?? preset.SharedExpert,
        ScoreFunction = ScoreFunction ?? preset.ScoreFunction,
        CapacityFactor = CapacityFactor ?? preset.CapacityFactor,
    };

    public int MoeLayers => Model.Layers - Model.DenseLayers;

    public TrainingConfig Training
    {
        get
        {
            if (ResolvedTraining is not null)
                return ResolvedTraining;
            var preset = PresetDefinition.Training;
            return preset with
            {
                Steps = Rounds * InnerSteps,
                BatchSize = BatchSize > 0 ? BatchSize : preset.BatchSize,
                LearningRate = InnerLearningRate > 0 ? InnerLearningRate : preset.LearningRate,
                WarmupSteps = WarmupSteps ?? Math.Min(preset.WarmupSteps, Math.Max(1, (Rounds * InnerSteps) / 10)),
                WeightDecay = WeightDecay ?? preset.WeightDecay,
                GradientAccumulation = GradientAccumulation ?? preset.GradientAccumulation,
                GradientClip = GradientClip ?? preset.GradientClip,
                Seed = Seed,
                EvaluationInterval = 0,
            };
        }
    }

    public LayerSpec LayerSpec => LayerSpec.Create(Model.Experts, Model.TopK,
        new HistogramRange(HistogramRange.Default.Low, HistogramRange.Default.High, HistogramBins), Router == RouterKind.Bip);

    /// <summary>Checks every field; the message names the field, the value and what is allowed.</summary>
    public void Validate()
    {
        JobIds.Validate(JobId);
        if (ResolvedModel is null)
            _ = PresetDefinition;
        if (Router is not (RouterKind.Bip or RouterKind.QuantileBalancing))
            throw new ArgumentException($"Job router {Router} cannot be balanced by the cluster: use bip or qb.");
        Check(Rounds >= 1, nameof(Rounds), Rounds, "at least 1");
        Check(InnerSteps >= 1, nameof(InnerSteps), InnerSteps, "at least 1");
        Check(BatchSize >= 0, nameof(BatchSize), BatchSize, "0 (preset) or more");
        Check(InnerLearningRate >= 0 && double.IsFinite(InnerLearningRate), nameof(InnerLearningRate), InnerLearningRate, "0 (preset) or a positive number");
        Check(OuterLearningRate > 0 && double.IsFinite(OuterLearningRate), nameof(OuterLearningRate), OuterLearningRate, "a positive number");
        Check(OuterMomentum is >= 0 and < 1, nameof(OuterMomentum), OuterMomentum, "0 <= momentum < 1");
        Check(Slices is null or >= 0, nameof(Slices), Slices ?? 0, "0 (one outer step on the coordinator) or more slices");
        Check(Quorum >= 1, nameof(Quorum), Quorum, "at least 1");
        Check(RoundTimeout > TimeSpan.Zero, nameof(RoundTimeout), RoundTimeout, "a positive duration");
        Check(HistogramBins >= 2, nameof(HistogramBins), HistogramBins, "at least 2");
        Check(MaxStaleness >= 0, nameof(MaxStaleness), MaxStaleness, "0 or more");
        Check(OverlapSteps >= 0, nameof(OverlapSteps), OverlapSteps, "0 (rounds do not overlap) or more");
        if (ResolvedModel is null)
            ValidateShape();
    }

    // The model's and the optimiser's rules are theirs; the message names the job's key.
    private void ValidateShape()
    {
        try
        {
            Model.Validate();
            Training.Validate();
        }
        catch (ArgumentException e) when (e.ParamName is { } name)
        {
            var key = name switch
            {
                "topK" => nameof(TopK),
                nameof(TrainingConfig.LearningRate) => nameof(InnerLearningRate),
                _ => name,
            };
            throw new ArgumentException($"Job:{key}: {e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal)}", e);
        }
        Check(Model.DenseLayers < Model.Layers, nameof(DenseLayers), Model.DenseLayers, $"fewer than the {Model.Layers} layers: a job balances at least one MoE layer");
    }

    private static void Check(bool ok, string field, object value, string allowed)
    {
        if (!ok)
            throw new ArgumentException($"Job:{field} = {value} is invalid: use {allowed}.");
    }
}
