using System.CommandLine;
using Moe.Cluster.Host.Configuration;
using Moe.Model.Network;

namespace Moe.Cluster.Host.Commands;

/// <summary>The options that describe a job, shared by the commands that start one; each sets a key of section Job.</summary>
internal sealed class JobOptions(string jobIdDescription)
{
    private readonly Option<string?> _jobId = new("--job-id") { Description = jobIdDescription };

    private readonly Option<string?> _preset = new("--preset")
    {
        Description = $"Model preset: {string.Join(", ", ModelPresets.All.Select(p => p.Name))} (default small-16e).",
    };

    private readonly Option<int?> _rounds = new("--rounds") { Description = "Rounds of the job (default 50)." };

    private readonly Option<int?> _innerSteps = new("--inner-steps", "-H") { Description = "Inner steps per trainer per round (default 10)." };

    private readonly Option<int?> _overlapSteps = new("--overlap-steps")
    {
        Description = "Steps of each round taken while the previous round commits (0: rounds do not overlap; default 1, but 0 for `train` on CPU trainers, whose cores the commit would take).",
    };

    private readonly Option<string?> _text = new("--text") { Description = "Training text: a .txt file, a folder of them or a .jsonl file (default: the Brown Corpus)." };

    private readonly Option<string?> _deltaPrecision = new("--delta-precision")
    {
        Description = "How trainers send their deltas: fp32 (default) or bf16 (bfloat16), half the bytes (the outer step stays float32).",
    };

    private readonly Option<int?> _slices = new("--slices")
    {
        Description = "Slices of the outer step, each stepped by its own slice owner (0: one outer step on the coordinator; default: the trainer nodes up when the job starts, 0 if one).",
    };

    /// <summary>The model's shape and the inner optimiser.</summary>
    public ModelShapeOptions Shape { get; } = new();

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _jobId, _preset, _rounds, _innerSteps, _overlapSteps, _text, _deltaPrecision, _slices })
            command.Options.Add(option);
        Shape.AddTo(command);
        _deltaPrecision.AcceptOnlyFromAmong("fp32", "bf16");
    }

    /// <summary>The flags the user gave, as keys of section Job.</summary>
    public Flags Set(Flags flags, ParseResult result) => Shape.Set(flags, result)
        .Set("Job:JobId", result.GetValue(_jobId))
        .Set("Job:Preset", result.GetValue(_preset))
        .Set("Job:Rounds", result.GetValue(_rounds))
        .Set("Job:InnerSteps", result.GetValue(_innerSteps))
        .Set("Job:OverlapSteps", result.GetValue(_overlapSteps))
        .Set("Job:DeltaPrecision", result.GetValue(_deltaPrecision))
        .Set("Job:Slices", result.GetValue(_slices))
        .Set("Job:TextPath", result.GetValue(_text) is { } path ? Path.GetFullPath(path) : null);
}
