using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.Tokenizers;

namespace Moe.Model.Data;

/// <summary>
/// A model's compact vocabulary over GPT-2's byte-level BPE: compact id 0 is end of text, 1 stands for every GPT-2
/// token outside the vocabulary, and each further id names one GPT-2 token. It travels with the model, so text can
/// be encoded and decoded exactly as in training.
/// </summary>
public sealed class Vocabulary
{
    private const int Gpt2EndOfText = 50256;
    private static readonly Lazy<TiktokenTokenizer> Gpt2 = new(() => TiktokenTokenizer.CreateForModel("gpt-2"));
    private readonly Dictionary<int, int> _compact = [];

    /// <param name="gpt2Ids">
    /// The GPT-2 id of each compact id: end of text first, then -1 (unknown), then distinct ids, or -1 for ids the
    /// model has but the text never filled (a text with fewer distinct tokens than the vocabulary size).
    /// </param>
    public Vocabulary(int[] gpt2Ids)
    {
        if (gpt2Ids.Length < TokenDataset.MinVocabSize || gpt2Ids[TokenDataset.EndOfText] != Gpt2EndOfText || gpt2Ids[TokenDataset.Unknown] != -1)
            throw new InvalidDataException($"A vocabulary starts with GPT-2's end of text ({Gpt2EndOfText}) and -1 (unknown) and has at least {TokenDataset.MinVocabSize} entries.");
        for (var c = 0; c < gpt2Ids.Length; c++)
        {
            var id = gpt2Ids[c];
            if (c != TokenDataset.EndOfText && id == -1)
                continue;
            if (id < 0 || id > Gpt2EndOfText || !_compact.TryAdd(id, c))
                throw new InvalidDataException($"Vocabulary entry {c} is GPT-2 id {id}: each must be -1 or a distinct id in [0, {Gpt2EndOfText}].");
        }
        Gpt2Ids = gpt2Ids;
    }

    public int[] Gpt2Ids { get; }

    public int Size => Gpt2Ids.Length;

    /// <summary>
    /// Whether id <paramref name="id"/> has no text of its own: the unknown id, which stands for every token outside
    /// the vocabulary, or an id no training text filled (see <see cref="PaddedTo"/>).
    /// </summary>
    public bool IsTextless(int id) => Gpt2Ids[id] < 0;

    /// <summary>This vocabulary with unused ids (-1) up to <paramref name="size"/>, the model's vocabulary size.</summary>
    public Vocabulary PaddedTo(int size) =>
        size <= Size ? this : new Vocabulary([.. Gpt2Ids, .. Enumerable.Repeat(-1, size - Size)]);

    /// <summary>The compact ids of <paramref name="text"/>, and how many of its GPT-2 tokens mapped to the unknown id.</summary>
    public (int[] Ids, int Unknown) Encode(string text)
    {
        var unknown = 0;
        int[] ids = [.. Gpt2.Value.EncodeToIds(text).Select(id =>
        {
            if (_compact.TryGetValue(id, out var compact))
                return compact;
            unknown++;
            return TokenDataset.Unknown;
        })];
        return (ids, unknown);
    }

    /// <summary>Text of compact ids; each unknown or unused id becomes "?".</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var text = new System.Text.StringBuilder();
        List<int> run = [];
        foreach (var id in ids)
        {
            if (Gpt2Ids[id] >= 0)
            {
                run.Add(Gpt2Ids[id]);
                continue;
            }
            text.Append(DecodeGpt2(run)).Append('?');
            run.Clear();
        }
        return text.Append(DecodeGpt2(run)).ToString();
    }

    /// <summary>Text of GPT-2 ids.</summary>
    internal static string DecodeGpt2(IReadOnlyList<int> gpt2Ids) => gpt2Ids.Count == 0 ? "" : Gpt2.Value.Decode(gpt2Ids) ?? "";

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(new JsonObject
    {
        ["tokenizer"] = "gpt2",
        ["end_of_text"] = TokenDataset.EndOfText,
        ["unknown"] = TokenDataset.Unknown,
        ["gpt2_ids"] = new JsonArray([.. Gpt2Ids.Select(id => (JsonNode)id)]),
    });

    /// <exception cref="InvalidDataException">The JSON is not a vocabulary.</exception>
    public static Vocabulary FromJson(ReadOnlySpan<byte> json)
    {
        try
        {
            var node = JsonNode.Parse(json) ?? throw new InvalidDataException("the vocabulary is empty");
            if ((string?)node["tokenizer"] != "gpt2")
                throw new InvalidDataException($"the vocabulary is for tokenizer \"{node["tokenizer"]}\"; only gpt2 is known");
            if ((int?)node["end_of_text"] != TokenDataset.EndOfText || (int?)node["unknown"] != TokenDataset.Unknown)
                throw new InvalidDataException($"the vocabulary must put end of text at id {TokenDataset.EndOfText} and the unknown id at {TokenDataset.Unknown}");
            if (node["gpt2_ids"] is not JsonArray ids)
                throw new InvalidDataException("the vocabulary has no gpt2_ids array");
            return new Vocabulary([.. ids.Select(id => id?.GetValue<int>() ?? throw new InvalidDataException("the vocabulary's gpt2_ids hold a null"))]);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"the vocabulary is not valid JSON of gpt2_ids ({e.Message})");
        }
    }
}
