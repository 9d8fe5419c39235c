using System.Text.Json;
using Moe.Model.Inference;
using Moe.Model.IO;
using Moe.Testing;
using static Moe.Cluster.Host.Tests.Support.CommandLine;

namespace Moe.Cluster.Host.Tests.Export;

/// <summary>The trained model leaves the cluster: train names its folder, export writes it again, generate and eval use it.</summary>
[Trait("Category", "Integration")]
public sealed class ModelCommandsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("model-commands-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task Train_names_its_model_folder_which_export_generate_and_eval_use()
    {
        var data = Path.Combine(_directory, "data");
        var text = SampleText.Write(_directory, sentences: 3000, seed: 4);
        var train = await Run("train", "--preset", "tiny", "--rounds", "3", "--inner-steps", "2", "--trainers", "2", "--text", text, "--data-dir", data);
        Assert.True(train.Code == 0, train.Error);
        var folder = Path.Combine(data, "models", "train-tiny");
        Assert.Contains($"Model folder: {Path.GetFullPath(folder)}", train.Output, StringComparison.Ordinal);
        Assert.Contains("model folder", await File.ReadAllTextAsync(Path.Combine(data, "reports", "train-tiny", "report.md"), TestContext.Current.CancellationToken), StringComparison.Ordinal);

        // The folder carries what the balancers learnt: a q per MoE layer, not the initial zeros.
        var (tensors, metadata) = SafeTensors.Read(Path.Combine(folder, ModelFolder.Weights));
        Assert.Equal("3", metadata["committed_rounds"]);
        var q = tensors.Where(t => t.Key.EndsWith(".router.q", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, q.Count);
        Assert.All(q, t => Assert.Contains(t.Value.Values, v => v != 0));

        var exported = Path.Combine(_directory, "exported");
        var export = await Run("export", "--job-id", "train-tiny", "--data-dir", data, "--out", exported);
        Assert.True(export.Code == 0, export.Error);
        Assert.Contains("round 3 of 3, finished", export.Output, StringComparison.Ordinal);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(folder, ModelFolder.Weights), TestContext.Current.CancellationToken),
            await File.ReadAllBytesAsync(Path.Combine(exported, ModelFolder.Weights), TestContext.Current.CancellationToken));

        string[] generate = ["generate", "--model", folder, "--prompt", "The jury said", "--max-tokens", "24", "--seed", "5"];
        var first = await Run(generate);
        var again = await Run(generate);
        var other = await Run([.. generate[..^1], "6"]);
        Assert.True(first.Code == 0, first.Error);
        Assert.StartsWith("The jury said", first.Output, StringComparison.Ordinal);
        Assert.True(first.Output.Length > "The jury said".Length + 10, first.Output);
        Assert.Equal(first.Output, again.Output);
        Assert.NotEqual(first.Output, other.Output);
        Assert.Matches(@"^\d+ tokens in [\d.]+ s \([\d.]+ tokens/s\); prompt \d+ tokens, \d+ outside the model's vocabulary\.", first.Error);

        var eval = await Run("eval", "--model", folder, "--text", text, "--json");
        Assert.True(eval.Code == 0, eval.Error);
        using var report = JsonDocument.Parse(eval.Output);
        var perplexity = report.RootElement.GetProperty("perplexity").GetDouble();
        Assert.InRange(perplexity, 1, 512); // better than chance over a 512-token vocabulary
        Assert.True(report.RootElement.GetProperty("tokens").GetInt64() > 1000);
        Assert.Equal(2, report.RootElement.GetProperty("layers").GetArrayLength());
        var table = await Run("eval", "--model", folder, "--text", text);
        Assert.Contains("Perplexity: ", table.Output, StringComparison.Ordinal);
        Assert.Contains("MaxVio_global", table.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_input_gets_one_line_and_exit_code_2()
    {
        var missing = Path.Combine(_directory, "none");
        var empty = Path.Combine(_directory, "empty.txt");
        await File.WriteAllTextAsync(empty, "", TestContext.Current.CancellationToken);
        var damaged = Path.Combine(_directory, "damaged");
        Directory.CreateDirectory(damaged);
        await File.WriteAllTextAsync(Path.Combine(damaged, FolderManifest.FileName), "[", TestContext.Current.CancellationToken);
        string model;
        using (var network = new Moe.Model.Network.MoeTransformer(Moe.Model.Network.ModelPresets.Get("tiny").Model))
            model = ModelFolder.Write(Path.Combine(_directory, "model"), network, new Moe.Model.Data.Vocabulary([50256, -1, 100]), new Dictionary<string, string>());

        foreach (var (args, expected) in new (string[], string)[]
        {
            (["generate", "--model", missing, "--prompt", "x"], "no such folder"),
            (["generate", "--model", damaged, "--prompt", "x"], "damaged"),
            (["generate", "--model", missing, "--prompt", "x", "--temperature", "-1"], "temperature"),
            (["eval", "--model", missing, "--text", empty], "no such folder"),
            (["eval", "--model", model, "--text", empty], "no usable text"),
            (["generate", "--model", model, "--prompt", "x", "--top-p", "0"], "top-p"),
            (["export", "--job-id", "j", "--data-dir", missing], "does not exist"),
        })
        {
            var (code, _, error) = await Run(args);
            Assert.True(code == 2, $"{string.Join(' ', args)}: exit {code}, {error}");
            Assert.Contains(expected, error, StringComparison.Ordinal);
            Assert.Single(error.Trim().Split('\n'));
        }
    }
}
