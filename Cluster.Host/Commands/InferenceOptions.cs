using System.CommandLine;
using Moe.Model.Inference;
using Moe.Model.Training;

namespace Moe.Cluster.Host.Commands;

/// <summary>The options `generate` and `eval` share: which model folder, on which device.</summary>
internal sealed class InferenceOptions
{
    public Option<string> Model { get; } = new("--model")
    {
        Description = "Model folder (DATA/models/JOB-ID, written at the end of train or by export).",
        Required = true,
    };

    public Option<string> Device { get; } = new("--device") { Description = "auto, cpu, cuda or cuda:N.", DefaultValueFactory = _ => "auto" };

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(Device);
    }

    /// <exception cref="ModelFolderException">The folder is missing, partial or damaged.</exception>
    /// <exception cref="ArgumentException">The device is unknown or absent.</exception>
    public TrainedModel Load(ParseResult result) =>
        ModelFolder.Load(result.GetValue(Model)!, TrainingDevice.Resolve(result.GetValue(Device)!));

    /// <summary>Where the model comes from, for the first line of output.</summary>
    public static string Describe(TrainedModel model) =>
        model.Provenance.TryGetValue("job_id", out var job)
            ? $"{model.Folder} (job {job}, {model.Provenance.GetValueOrDefault("committed_rounds", "?")} of {model.Provenance.GetValueOrDefault("rounds", "?")} rounds): {model.Model.Config.Describe()}"
            : $"{model.Folder}: {model.Model.Config.Describe()}";
}
