using System.CommandLine;
using System.Diagnostics;
using Moe.Model.Inference;

namespace Moe.Cluster.Host.Commands;

/// <summary>
/// `generate`: samples text from a model folder with inference routing (the saved q or bias, no re-solve), streaming
/// whole characters to standard output as they come; the summary goes to standard error.
/// </summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = new InferenceOptions();
        var prompt = new Option<string>("--prompt") { Description = "Text to continue (may be empty).", Required = true };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens to sample at most; end of text stops sooner.", DefaultValueFactory = _ => 100 };
        var temperature = new Option<double>("--temperature") { Description = "0: always the most likely token; higher: more varied.", DefaultValueFactory = _ => 0.8 };
        var topP = new Option<double>("--top-p") { Description = "Sample among the most likely tokens holding this share of the probability.", DefaultValueFactory = _ => 0.95 };
        var seed = new Option<int>("--seed") { Description = "The same seed, prompt and model give the same text.", DefaultValueFactory = _ => 1 };

        var command = new Command("generate", "Sample text from a trained model folder, streaming it to the terminal.") { prompt, maxTokens, temperature, topP, seed };
        model.AddTo(command);
        command.SetAction(async (result, cancellation) =>
        {
            var (output, error) = (result.InvocationConfiguration.Output, result.InvocationConfiguration.Error);
            TrainedModel trained;
            TokenSampler sampler;
            try
            {
                sampler = new TokenSampler(result.GetValue(temperature), result.GetValue(topP), result.GetValue(seed));
                if (result.GetValue(maxTokens) < 1)
                    throw new ArgumentException($"--max-tokens must be at least 1, got {result.GetValue(maxTokens)}.");
                trained = model.Load(result);
            }
            catch (Exception e) when (e is ArgumentException or ModelFolderException)
            {
                await error.WriteLineAsync($"error: {Cli.Describe(e)}");
                return ExitCodes.BadInput;
            }
            using (trained)
            {
                var text = result.GetValue(prompt)!;
                var (ids, unknown) = trained.Vocabulary.Encode(text);
                await output.WriteAsync(text);
                var decoder = new StreamingDecoder(trained.Vocabulary);
                var watch = Stopwatch.StartNew();
                var sampled = 0;
                foreach (var id in Generation.Sample(trained, ids, result.GetValue(maxTokens), sampler))
                {
                    cancellation.ThrowIfCancellationRequested();
                    sampled++;
                    await output.WriteAsync(decoder.Append(id));
                    await output.FlushAsync(cancellation);
                }
                await output.WriteLineAsync(decoder.Flush());
                await output.FlushAsync(cancellation); // the text before the summary on standard error
                var seconds = watch.Elapsed.TotalSeconds;
                await error.WriteLineAsync(
                    $"{sampled} tokens in {seconds:F2} s ({sampled / Math.Max(seconds, 1e-9):F1} tokens/s); prompt {ids.Length} tokens, {unknown} outside the model's vocabulary.");
            }
            return ExitCodes.Success;
        });
        return command;
    }
}
