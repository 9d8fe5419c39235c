using Moe.Model.Balancing;
using Moe.Model.Data;
using Moe.Model.Devices;
using static TorchSharp.torch;

namespace Moe.Model.Inference;

/// <summary>How one MoE layer routed over an evaluation.</summary>
public sealed record LayerEvaluation(int Layer, long[] Loads, BalanceMeasures Balance);

/// <summary>What a model makes of a text: its next-token loss over every predicted token, and how each MoE layer routed.</summary>
/// <param name="Tokens">Tokens predicted (each window's first token is only context).</param>
/// <param name="Unknown">Tokens of the text outside the model's vocabulary (they count as the unknown id).</param>
public sealed record TextEvaluation(long Tokens, double Loss, long Unknown, IReadOnlyList<LayerEvaluation> Layers)
{
    public double Perplexity => Math.Exp(Loss);

    /// <summary>
    /// Encodes each document followed by end of text (as in training), cuts the stream into windows of the context
    /// length plus one that overlap by one token, so every token after the first is predicted once, and runs them
    /// in batches with inference routing.
    /// </summary>
    /// <exception cref="ArgumentException">The documents hold fewer than two tokens.</exception>
    public static TextEvaluation Run(TrainedModel model, IEnumerable<string> documents, int batchSize = 8)
    {
        var network = model.Model;
        var device = network.parameters().First().device;
        List<int> stream = [];
        long unknown = 0;
        foreach (var document in documents)
        {
            var (ids, missing) = model.Vocabulary.Encode(document);
            stream.AddRange(ids);
            stream.Add(TokenDataset.EndOfText);
            unknown += missing;
        }
        if (stream.Count < 2)
            throw new ArgumentException("The text has no tokens to evaluate.");

        var length = network.Config.ContextLength;
        var windows = new List<int[]>();
        for (var start = 0; start < stream.Count - 1; start += length)
            windows.Add([.. stream.Skip(start).Take(length + 1)]);

        var loads = network.MoeLayers.Select(_ => new long[network.Config.Experts]).ToArray();
        double lossSum = 0;
        long predicted = 0;
        // Windows of one length share a batch; only the last one may be shorter.
        foreach (var batch in windows.Chunk(batchSize).SelectMany(c => c.GroupBy(w => w.Length)))
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var rows = batch.ToArray();
            var all = tensor(rows.SelectMany(w => w.Select(id => (long)id)).ToArray(), device: device).view(rows.Length, rows[0].Length);
            var (inputs, targets) = (all.narrow(1, 0, rows[0].Length - 1), all.narrow(1, 1, rows[0].Length - 1));
            var (logits, routing) = network.Run(inputs);
            var loss = nn.functional.cross_entropy(logits.reshape(-1, network.Config.VocabSize), targets.reshape(-1), reduction: nn.Reduction.Sum);
            lossSum += HostReads.Item<float>(loss);
            predicted += targets.numel();
            for (var k = 0; k < loads.Length; k++)
            {
                for (var e = 0; e < loads[k].Length; e++)
                    loads[k][e] += routing[k].Loads[e];
            }
        }
        var layers = loads.Select((l, k) => new LayerEvaluation(k, l, BalanceMeasures.FromLoads(l))).ToArray();
        return new TextEvaluation(predicted, lossSum / predicted, unknown, layers);
    }
}
