using System.CommandLine;
using Moe.Cluster.Host.Configuration;

namespace Moe.Cluster.Host.Commands;

/// <summary>
/// The options that shape a job's model and its inner optimiser, shared by `train`, `node` and `compare`; each sets
/// a key of section Job, and the preset fills in what is not given.
/// </summary>
internal sealed class ModelShapeOptions
{
    private readonly (Option Option, string Key)[] _options =
    [
        (new Option<int?>("--layers") { Description = "Transformer blocks." }, "Layers"),
        (new Option<int?>("--dim") { Description = "Model dimension d." }, "Dim"),
        (new Option<int?>("--heads") { Description = "Attention heads; they divide d into even sizes." }, "Heads"),
        (new Option<int?>("--vocab") { Description = "Vocabulary size, 3 to 50258 (the GPT-2 tokenizer's ids, most frequent first)." }, "VocabSize"),
        (new Option<int?>("--context") { Description = "Context length in tokens." }, "ContextLength"),
        (new Option<int?>("--dense-layers") { Description = "Leading blocks with a dense feed-forward instead of experts." }, "DenseLayers"),
        (new Option<int?>("--experts") { Description = "Routed experts per MoE layer." }, "Experts"),
        (new Option<int?>("--top-k") { Description = "K: experts per token." }, "TopK"),
        (new Option<int?>("--expert-hidden") { Description = "Hidden size of each expert's SwiGLU." }, "ExpertHidden"),
        (new Option<bool?>("--shared-expert") { Description = "Add an expert every token goes through." }, "SharedExpert"),
        (Score(), "ScoreFunction"),
        (new Option<double?>("--capacity-factor") { Description = "Tokens an expert takes per step, as a multiple of its fair share; 0: no limit." }, "CapacityFactor"),
        (new Option<int?>("--batch-size") { Description = "Sequences per micro-batch per trainer." }, "BatchSize"),
        (new Option<int?>("--grad-accum") { Description = "Micro-batches per optimiser step (their gradients add up): a batch too large for memory, in parts." }, "GradientAccumulation"),
        (new Option<double?>("--lr") { Description = "Peak inner learning rate (AdamW)." }, "InnerLearningRate"),
        (new Option<int?>("--warmup") { Description = "Learning-rate warm-up steps." }, "WarmupSteps"),
        (new Option<double?>("--weight-decay") { Description = "AdamW weight decay." }, "WeightDecay"),
        (new Option<double?>("--grad-clip") { Description = "Gradient norm clip." }, "GradientClip"),
    ];

    public void AddTo(Command command)
    {
        foreach (var (option, _) in _options)
            command.Options.Add(option);
    }

    /// <summary>The flags the user gave, as keys of section Job.</summary>
    public Flags Set(Flags flags, ParseResult result)
    {
        foreach (var (option, key) in _options)
            flags.Set($"Job:{key}", result.GetResult(option) is { } given ? given.Tokens.Count == 0 ? "true" : given.Tokens[0].Value : null);
        return flags;
    }

    /// <summary>The flags the user gave, by name (for a node that refuses them).</summary>
    public IEnumerable<string> Given(ParseResult result) => _options.Where(o => result.GetResult(o.Option) is not null).Select(o => o.Option.Name);

    private static Option<string?> Score()
    {
        var score = new Option<string?>("--score") { Description = "Router scores: softmax or sigmoid." };
        score.AcceptOnlyFromAmong("softmax", "sigmoid");
        return score;
    }
}
