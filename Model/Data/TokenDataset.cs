using System.Security.Cryptography;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Moe.Model.Data;

/// <summary>
/// Documents tokenised with GPT-2 BPE, split into train and validation, with a compact vocabulary: the model's
/// token ids are 0 = end of text, 1 = any GPT-2 token outside the vocabulary, then the most frequent GPT-2
/// tokens of the training split. A small model then does not pay for 50,257 output logits it cannot learn.
/// </summary>
public sealed class TokenDataset
{
    public const int EndOfText = 0;
    public const int Unknown = 1;
    private const int Gpt2EndOfText = 50256;

    /// <summary>End of text, unknown, and one more id.</summary>
    public const int MinVocabSize = 3;

    /// <summary>Every GPT-2 id (the largest is end of text) and the unknown id.</summary>
    public const int MaxVocabSize = Gpt2EndOfText + 2;
    private const string Magic = "MOETOKENS1";

    private Vocabulary? _vocabulary;

    private TokenDataset(int vocabSize, int[] train, int[] validation, int[] gpt2Ids, TextLoadReport? report)
    {
        VocabSize = vocabSize;
        Train = train;
        Validation = validation;
        Gpt2Ids = gpt2Ids;
        Report = report;
    }

    /// <summary>Random ids (a tenth for validation): what a memory or speed measurement trains on, whose text does not matter.</summary>
    public static TokenDataset Random(int vocabSize, int tokens, int seed)
    {
        var random = new System.Random(seed);
        int[] Ids(int count) => [.. Enumerable.Range(0, count).Select(_ => random.Next(vocabSize))];
        return new TokenDataset(vocabSize, Ids(tokens), Ids(Math.Max(2, tokens / 10)), [Gpt2EndOfText, -1, .. Enumerable.Range(0, vocabSize - 2)], report: null);
    }

    public int VocabSize { get; }

    public int[] Train { get; }

    public int[] Validation { get; }

    /// <summary>The GPT-2 id of each compact id (end of text for 0, -1 for unknown).</summary>
    public int[] Gpt2Ids { get; }

    /// <summary>How the source loaded (null when read back from the cache).</summary>
    public TextLoadReport? Report { get; }

    /// <summary>
    /// Loads the dataset from the cache when one was built from the same documents and vocabulary size, else
    /// tokenises and writes the cache (atomically). A damaged cache file is rebuilt.
    /// </summary>
    public static TokenDataset LoadOrBuild(IReadOnlyList<string> documents, int vocabSize, string cacheDirectory,
        TextLoadReport? report = null, Action<string>? log = null)
    {
        if (vocabSize < MinVocabSize)
            throw new ArgumentException($"The vocabulary needs at least {MinVocabSize} entries, got {vocabSize}.", nameof(vocabSize));
        Directory.CreateDirectory(cacheDirectory);
        var path = Path.Combine(cacheDirectory, $"tokens-{Key(documents, vocabSize)}.bin");
        if (File.Exists(path))
        {
            try
            {
                return Read(path);
            }
            catch (InvalidDataException e)
            {
                log?.Invoke($"Token cache {path} is damaged ({e.Message}); tokenising again.");
            }
        }
        var dataset = Build(documents, vocabSize, report);
        dataset.Write(path);
        log?.Invoke($"Tokenised {dataset.Train.Length + dataset.Validation.Length:N0} tokens into {path}.");
        return dataset;
    }

    /// <summary>Whether document <paramref name="index"/> of <paramref name="count"/> is held out for validation (from 20 documents on).</summary>
    public static bool IsValidationDocument(int index, int count) => count >= 20 && index % 20 == 19;

    public static TokenDataset Build(IReadOnlyList<string> documents, int vocabSize, TextLoadReport? report = null)
    {
        var tokenizer = TiktokenTokenizer.CreateForModel("gpt-2");
        var encoded = documents.Select(d => tokenizer.EncodeToIds(d).ToArray()).ToList();

        // Every 20th document validates; with fewer than 20 documents the last 5 % of the stream does.
        List<int> train = [], validation = [];
        for (var d = 0; d < encoded.Count; d++)
        {
            var target = IsValidationDocument(d, encoded.Count) ? validation : train;
            target.AddRange(encoded[d]);
            target.Add(Gpt2EndOfText);
        }
        if (encoded.Count < 20)
        {
            var cut = (int)(train.Count * 0.95);
            validation = train[cut..];
            train = train[..cut];
        }
        if (train.Count < 2 || validation.Count < 2)
            throw new ArgumentException($"The text is too short to train on: {train.Count} training and {validation.Count} validation tokens.");

        var frequent = train.Where(t => t != Gpt2EndOfText).GroupBy(t => t)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key)
            .Take(vocabSize - 2).Select(g => g.Key);
        int[] gpt2Ids = [Gpt2EndOfText, -1, .. frequent];
        var compact = new Dictionary<int, int>();
        for (var c = 0; c < gpt2Ids.Length; c++)
        {
            if (gpt2Ids[c] >= 0)
                compact[gpt2Ids[c]] = c;
        }
        int[] Map(List<int> ids) => [.. ids.Select(id => compact.GetValueOrDefault(id, Unknown))];
        return new TokenDataset(vocabSize, Map(train), Map(validation), gpt2Ids, report);
    }

    /// <summary>The compact vocabulary, which a trained model keeps to encode and decode text.</summary>
    public Vocabulary Vocabulary => _vocabulary ??= new(Gpt2Ids);

    /// <summary>Decodes compact ids back to text (unknown tokens become "?").</summary>
    public string Decode(IEnumerable<int> ids) => Vocabulary.Decode(ids);

    private static string Key(IReadOnlyList<string> documents, int vocabSize)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{Magic}|gpt2|{vocabSize}|{documents.Count}"));
        foreach (var document in documents)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(document));
            hash.AppendData([0]);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    private void Write(string path)
    {
        using var body = new MemoryStream();
        using (var writer = new BinaryWriter(body, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(VocabSize);
            foreach (var array in new[] { Train, Validation, Gpt2Ids })
            {
                writer.Write(array.Length);
                foreach (var value in array)
                    writer.Write(value);
            }
        }
        var bytes = body.ToArray();
        AtomicFile.Write(path, [.. bytes, .. SHA256.HashData(bytes)]);
    }

    private static TokenDataset Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 32 || !SHA256.HashData(bytes.AsSpan(0, bytes.Length - 32)).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - 32)))
            throw new InvalidDataException("checksum mismatch");
        using var reader = new BinaryReader(new MemoryStream(bytes, 0, bytes.Length - 32));
        if (reader.ReadString() != Magic)
            throw new InvalidDataException("unknown format");
        var vocabSize = reader.ReadInt32();
        int[] ReadArray()
        {
            var values = new int[reader.ReadInt32()];
            for (var k = 0; k < values.Length; k++)
                values[k] = reader.ReadInt32();
            return values;
        }
        return new TokenDataset(vocabSize, ReadArray(), ReadArray(), ReadArray(), report: null);
    }
}
