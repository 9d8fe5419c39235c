using System.Diagnostics;
using System.Text.Json;
using Moe.Cluster.Host.Tests.Support;
using Moe.Model.Data;
using Moe.Model.Inference;
using Moe.Model.IO;
using Moe.Model.Network;
using Moe.Model.Routing;
using static TorchSharp.torch;

namespace Moe.Cluster.Host.Tests.Export;

/// <summary>
/// The exported model read by independent code: Debian's python3 with json and numpy parses model.safetensors, and
/// tools/reference_forward.py recomputes the logits from the file and config.json alone.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ReferenceForwardTests : IDisposable
{
    // Debian's interpreter: the python3 first on PATH may be another, without numpy (.ci/run installs python3-numpy).
    private const string Python = "/usr/bin/python3";

    private readonly string _directory = Directory.CreateTempSubdirectory("reference-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    public static TheoryData<string, string> Shapes => new()
    {
        { "tiny", "bip" },
        { "small-16e", "qb" },
        { "tiny", "lossfree, sigmoid, a dense layer and a shared expert" },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void The_numpy_reference_gives_the_models_logits_within_1e_4(string preset, string variant)
    {
        using var scope = NewDisposeScope();
        var config = ModelPresets.Get(preset).Model with { Router = variant.StartsWith("qb", StringComparison.Ordinal) ? RouterKind.QuantileBalancing : RouterKind.Bip };
        if (variant.StartsWith("lossfree", StringComparison.Ordinal))
            config = config with { Router = RouterKind.LossFree, ScoreFunction = ScoreFunction.Sigmoid, Layers = 3, DenseLayers = 1, SharedExpert = true };
        manual_seed(11);
        using var model = new MoeTransformer(config);
        var random = new Random(5);
        foreach (var layer in model.MoeLayers) // prices that change the ranking, as a trained model's do
            layer.Router.LoadState(tensor(Enumerable.Range(0, config.Experts).Select(_ => (float)((random.NextDouble() - 0.5) * 0.1)).ToArray()));
        model.eval();
        model.InferenceRouting = true;
        var folder = ModelFolder.Write(Path.Combine(_directory, "model"), model, new Vocabulary([50256, -1, .. Enumerable.Range(0, config.VocabSize - 2)]),
            new Dictionary<string, string> { ["job_id"] = "reference" });
        int[] tokens = [.. Enumerable.Range(0, 20).Select(_ => random.Next(config.VocabSize))];
        var expected = model.forward(tensor(tokens.Select(t => (long)t).ToArray()).unsqueeze(0))[0].data<float>().ToArray();

        var npy = Path.Combine(_directory, "logits.npy");
        var (code, _, error) = RunPython([Path.Combine(RepositoryRoot.Path, "tools", "reference_forward.py"), folder, .. tokens.Select(t => $"{t}"), "--out", npy]);
        Assert.True(code == 0, error);
        var reference = NpyMatrix.Read(npy);

        Assert.Equal((tokens.Length, config.VocabSize), (reference.Rows, reference.Columns));
        var worst = expected.Select((v, i) => Math.Abs(v - reference.Values[i])).Max();
        Assert.True(worst <= 1e-4, $"{preset} ({variant}): the largest logit difference is {worst:E2}");
    }

    [Fact]
    public void An_independent_reader_finds_every_tensor_where_the_header_says_with_the_models_values()
    {
        using var scope = NewDisposeScope();
        using var model = new MoeTransformer(ModelPresets.Get("tiny").Model);
        var folder = ModelFolder.Write(Path.Combine(_directory, "model"), model, new Vocabulary([50256, -1, .. Enumerable.Range(0, 510)]),
            new Dictionary<string, string> { ["job_id"] = "listed" });

        var (code, output, error) = RunPython([Path.Combine(RepositoryRoot.Path, "tools", "reference_forward.py"), folder, "--list"]);

        Assert.True(code == 0, error);
        using var listing = JsonDocument.Parse(output);
        Assert.Equal("listed", listing.RootElement.GetProperty("metadata").GetProperty("job_id").GetString());
        var tensors = listing.RootElement.GetProperty("tensors");
        var parameters = model.named_parameters().ToList();
        Assert.Equal(parameters.Count + model.MoeLayers.Count, tensors.EnumerateObject().Count()); // and one q per MoE layer
        foreach (var (name, parameter) in parameters)
        {
            var entry = tensors.GetProperty(name);
            Assert.Equal(parameter.shape, entry.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray());
            var first = entry.GetProperty("first").EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();
            Assert.Equal(parameter.detach().flatten().data<float>().ToArray().Take(first.Length), first);
        }
    }

    private static (int Code, string Output, string Error) RunPython(IEnumerable<string> arguments)
    {
        if (!File.Exists(Python) || Run(["-c", "import numpy"]).Code != 0)
            Assert.Skip($"{Python} with numpy is not installed (apt-get install python3-numpy); .ci/run installs it.");
        return Run(arguments);
    }

    private static (int Code, string Output, string Error) Run(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Result, error);
    }
}
