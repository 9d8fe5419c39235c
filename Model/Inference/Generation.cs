using Moe.Model.Data;
using static TorchSharp.torch;

namespace Moe.Model.Inference;

/// <summary>Autoregressive sampling, one token per forward pass over the last context-length tokens.</summary>
public static class Generation
{
    /// <summary>
    /// Yields up to <paramref name="maxTokens"/> sampled ids after <paramref name="prompt"/> (an empty prompt starts
    /// from end of text), stopping early at end of text. Ids without text of their own (the unknown id, ids no text
    /// filled) are never sampled: they could only be written as "?". Routing is the model's inference routing, which
    /// is causal: earlier positions route as they did in the pass before.
    /// </summary>
    public static IEnumerable<int> Sample(TrainedModel model, IReadOnlyList<int> prompt, int maxTokens, TokenSampler sampler)
    {
        if (maxTokens < 1)
            throw new ArgumentException($"At least 1 token must be asked for, got {maxTokens}.", nameof(maxTokens));
        var network = model.Model;
        var device = network.parameters().First().device;
        var textless = Enumerable.Range(0, model.Vocabulary.Size).Where(model.Vocabulary.IsTextless).ToArray();
        List<int> context = prompt.Count > 0 ? [.. prompt] : [TokenDataset.EndOfText];
        for (var n = 0; n < maxTokens; n++)
        {
            int next;
            using (NewDisposeScope())
            using (no_grad())
            {
                var window = context.Skip(Math.Max(0, context.Count - network.Config.ContextLength)).Select(id => (long)id).ToArray();
                var logits = network.forward(tensor(window, device: device).unsqueeze(0)).select(1, -1).squeeze(0);
                var values = Devices.HostReads.ToArray<float>(logits);
                foreach (var id in textless)
                    values[id] = float.NegativeInfinity;
                next = sampler.Next(values);
            }
            if (next == TokenDataset.EndOfText)
                yield break;
            context.Add(next);
            yield return next;
        }
    }
}
