using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Moe.Model.Data;
using Moe.Model.IO;
using Moe.Model.Network;
using Moe.Model.Routing;
using Moe.Model.Training.Rounds;
using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Inference;

/// <summary>
/// A trained model as it leaves the cluster: <c>model.safetensors</c> (every parameter under the model's own
/// module path, and each MoE layer's router state as <c>blocks.B.feedForward.router.q</c> or <c>.bias</c>),
/// <c>config.json</c> (every setting of the model, snake_case), <c>vocabulary.json</c> (compact ids to GPT-2 ids),
/// and <c>manifest.json</c> with each file's SHA-256, written last. docs/model.md describes the layout.
/// </summary>
public static class ModelFolder
{
    public const string Weights = "model.safetensors";
    public const string ConfigFile = "config.json";
    public const string VocabularyFile = "vocabulary.json";
    public const int FormatVersion = 1;

    private static readonly JsonSerializerOptions ConfigJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>The safetensors name of MoE layer <paramref name="moeLayer"/>'s router state, or null when its router keeps none.</summary>
    public static string? RouterStateName(MoeModelConfig config, int moeLayer) => config.Router switch
    {
        RouterKind.Bip or RouterKind.QuantileBalancing => $"blocks.{config.DenseLayers + moeLayer}.feedForward.router.q",
        RouterKind.LossFree => $"blocks.{config.DenseLayers + moeLayer}.feedForward.router.bias",
        _ => null,
    };

    /// <summary>Writes the folder (replacing one there) from parameters in the model's order and the routers' states.</summary>
    /// <param name="routerStates">Per MoE layer, q or the bias; ignored for routers without state.</param>
    /// <param name="provenance">Where the model comes from (job, round, ...), kept in the safetensors metadata.</param>
    public static string Write(string folder, MoeModelConfig config, IEnumerable<NamedTensor> parameters, IReadOnlyList<float[]?> routerStates,
        Vocabulary vocabulary, IReadOnlyDictionary<string, string> provenance)
    {
        if (vocabulary.Size > config.VocabSize)
            throw new ArgumentException($"The vocabulary has {vocabulary.Size} entries, the model only {config.VocabSize}.", nameof(vocabulary));
        vocabulary = vocabulary.PaddedTo(config.VocabSize);
        using var scope = NewDisposeScope();
        var tensors = parameters.Select(p => (p.Name, p.Value)).ToList();
        for (var k = 0; k < config.Layers - config.DenseLayers; k++)
        {
            if (RouterStateName(config, k) is not { } name)
                continue;
            var state = k < routerStates.Count ? routerStates[k] : null;
            if (state is null || state.Length != config.Experts)
                throw new ArgumentException($"MoE layer {k} needs its router state of {config.Experts} values, got {state?.Length.ToString() ?? "none"}.", nameof(routerStates));
            tensors.Add((name, tensor(state)));
        }
        Dictionary<string, string> metadata = new(provenance) { ["format"] = "pt", ["moe_format_version"] = $"{FormatVersion}" };
        return FolderManifest.Publish(folder, staging =>
        {
            FolderManifest.WriteFile(staging, Weights, stream => SafeTensors.Write(stream, tensors, metadata));
            FolderManifest.WriteFile(staging, ConfigFile, stream => stream.Write(ConfigBytes(config)));
            FolderManifest.WriteFile(staging, VocabularyFile, stream => stream.Write(vocabulary.ToJson()));
        });
    }

    /// <summary>Writes the folder of a model in memory (its parameters and its routers' current states).</summary>
    public static string Write(string folder, MoeTransformer model, Vocabulary vocabulary, IReadOnlyDictionary<string, string> provenance)
    {
        using var parameters = ParameterSet.Of(model);
        float[]?[] states = [.. model.MoeLayers.Select(l => l.Router.State?.cpu().data<float>().ToArray())];
        return Write(folder, model.Config, parameters, states, vocabulary, provenance);
    }

    /// <summary>
    /// Verifies the folder against its manifest and loads the model for inference (<see cref="MoeTransformer.InferenceRouting"/>,
    /// eval mode) on <paramref name="device"/>.
    /// </summary>
    /// <exception cref="ModelFolderException">The folder is missing, partial, damaged or does not describe a model.</exception>
    public static TrainedModel Load(string folder, Device device)
    {
        FolderManifest.Verify(folder, "model folder", [Weights, ConfigFile, VocabularyFile], message => new ModelFolderException(message));
        MoeModelConfig config;
        Vocabulary vocabulary;
        (IReadOnlyDictionary<string, SafeTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) weights;
        try
        {
            config = ReadConfig(File.ReadAllBytes(Path.Combine(folder, ConfigFile)));
            vocabulary = Vocabulary.FromJson(File.ReadAllBytes(Path.Combine(folder, VocabularyFile)));
            weights = SafeTensors.Read(Path.Combine(folder, Weights));
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or JsonException or InvalidOperationException or FormatException)
        {
            var message = e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;
            throw new ModelFolderException($"{folder}: {message}");
        }
        if (vocabulary.Size != config.VocabSize)
            throw new ModelFolderException($"{folder}: the vocabulary has {vocabulary.Size} entries, config.json says {config.VocabSize}.");

        var model = new MoeTransformer(config);
        try
        {
            Fill(model, weights.Tensors, folder);
            model.to(device);
            model.eval();
            model.InferenceRouting = true;
            return new TrainedModel(model, vocabulary, weights.Metadata, Path.GetFullPath(folder));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static byte[] ConfigBytes(MoeModelConfig config)
    {
        var json = JsonSerializer.SerializeToNode(config, ConfigJson)!.AsObject();
        json["head_dim"] = config.HeadDim;
        json["parameter_count"] = config.ParameterCount;
        json["format_version"] = FormatVersion;
        return JsonSerializer.SerializeToUtf8Bytes(json, ConfigJson);
    }

    private static MoeModelConfig ReadConfig(byte[] json)
    {
        var node = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException("config.json is not a JSON object");
        var version = (int?)node["format_version"];
        if (version != FormatVersion)
            throw new InvalidDataException($"config.json has format version {version?.ToString() ?? "(none)"}; this program reads {FormatVersion}");
        var config = node.Deserialize<MoeModelConfig>(ConfigJson) ?? throw new InvalidDataException("config.json is empty");
        config.Validate();
        return config;
    }

    private static void Fill(MoeTransformer model, IReadOnlyDictionary<string, SafeTensor> tensors, string folder)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        using (no_grad())
        {
            foreach (var (name, parameter) in model.named_parameters())
            {
                var value = Take(name, parameter.shape);
                using var source = tensor(value.Values).reshape(value.Shape);
                parameter.copy_(source);
            }
            for (var k = 0; k < model.MoeLayers.Count; k++)
            {
                if (RouterStateName(model.Config, k) is not { } name)
                    continue;
                using var state = tensor(Take(name, [model.Config.Experts]).Values);
                model.MoeLayers[k].Router.LoadState(state);
            }
        }
        if (tensors.Keys.FirstOrDefault(n => !used.Contains(n)) is { } extra)
            throw new ModelFolderException($"{folder}: {Weights} holds tensor {extra}, which a model of this config.json does not have.");

        SafeTensor Take(string name, long[] shape)
        {
            if (!tensors.TryGetValue(name, out var value))
                throw new ModelFolderException($"{folder}: {Weights} lacks tensor {name}.");
            if (!value.Shape.SequenceEqual(shape))
                throw new ModelFolderException($"{folder}: tensor {name} has shape [{string.Join(", ", value.Shape)}]; config.json implies [{string.Join(", ", shape)}].");
            used.Add(name);
            return value;
        }
    }
}
