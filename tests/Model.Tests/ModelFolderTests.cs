using Moe.Model.Data;
using Moe.Model.Devices;
using Moe.Model.Inference;
using Moe.Model.IO;
using Moe.Model.Network;
using Moe.Model.Routing;
using Moe.Model.Training.Rounds;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

public sealed class ModelFolderTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("moe-model-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static readonly MoeModelConfig Shape = new()
    {
        VocabSize = 40,
        ContextLength = 16,
        Dim = 32,
        Layers = 3,
        Heads = 2,
        DenseLayers = 1,
        Experts = 4,
        TopK = 2,
        ExpertHidden = 16,
        DenseHidden = 48,
        SharedExpert = true,
        Router = RouterKind.Bip,
    };

    private static Vocabulary Vocabulary(int size) => new([50256, -1, .. Enumerable.Range(100, size - 2)]);

    [Fact]
    public void Safetensors_round_trip_with_metadata_and_an_aligned_header()
    {
        using var scope = NewDisposeScope();
        var path = Path.Combine(_directory, "t.safetensors");
        var a = randn(3, 5);
        var b = KeptScalars.Indices(4, CPU).to(ScalarType.Float32);
        using (var stream = File.Create(path))
            SafeTensors.Write(stream, [("a", a), ("b.c", b)], new Dictionary<string, string> { ["format"] = "pt" });

        var bytes = File.ReadAllBytes(path);
        var headerLength = BitConverter.ToInt64(bytes, 0);
        Assert.Equal(0, (8 + headerLength) % 8);
        Assert.Equal(8 + headerLength + ((15 + 4) * 4), bytes.Length);
        var (tensors, metadata) = SafeTensors.Read(path);
        Assert.Equal("pt", metadata["format"]);
        Assert.Equal([3L, 5], tensors["a"].Shape);
        Assert.Equal(a.data<float>().ToArray(), tensors["a"].Values);
        Assert.Equal([0f, 1, 2, 3], tensors["b.c"].Values);

        File.WriteAllBytes(path, bytes[..^4]); // the last tensor runs past the end
        Assert.Contains("b.c", Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path)).Message);
    }

    [Fact]
    public void A_model_folder_loads_back_to_the_same_logits_and_router_states()
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        using var model = new MoeTransformer(Shape);
        model.MoeLayers[1].Router.LoadState(tensor(new[] { 0.1f, 0f, 0.05f, 0.2f }));
        model.eval();
        model.InferenceRouting = true;
        var tokens = randint(0, 40, [2, 9]);
        var expected = model.forward(tokens);

        var written = ModelFolder.Write(Path.Combine(_directory, "m"), model, Vocabulary(40), new Dictionary<string, string> { ["job_id"] = "j" });
        using var loaded = ModelFolder.Load(written, CPU);

        Assert.True(loaded.Model.InferenceRouting);
        Assert.Equal("j", loaded.Provenance["job_id"]);
        Assert.Equal(Shape, loaded.Model.Config);
        Assert.True(loaded.Model.MoeLayers[1].Router.State!.allclose(model.MoeLayers[1].Router.State!, rtol: 0, atol: 0));
        Assert.True(loaded.Model.forward(tokens).allclose(expected, rtol: 0, atol: 0), "the same parameters give the same logits");
        Assert.Equal(model.named_parameters().Count() + 2, SafeTensors.Read(Path.Combine(written, ModelFolder.Weights)).Tensors.Count);
    }

    [Fact]
    public void A_damaged_partial_or_missing_folder_is_refused_with_its_reason()
    {
        using var scope = NewDisposeScope();
        using var model = new MoeTransformer(Shape with { Router = RouterKind.TopK });
        var written = ModelFolder.Write(Path.Combine(_directory, "m"), model, Vocabulary(40), new Dictionary<string, string>());

        Assert.Contains("no such folder", Assert.Throws<ModelFolderException>(() => ModelFolder.Load(Path.Combine(_directory, "none"), CPU)).Message);
        var weights = Path.Combine(written, ModelFolder.Weights);
        var bytes = File.ReadAllBytes(weights);
        bytes[^1] ^= 1;
        File.WriteAllBytes(weights, bytes);
        Assert.Contains("SHA-256", Assert.Throws<ModelFolderException>(() => ModelFolder.Load(written, CPU)).Message);
        File.Delete(Path.Combine(written, FolderManifest.FileName));
        Assert.Contains("partial", Assert.Throws<ModelFolderException>(() => ModelFolder.Load(written, CPU)).Message);

        // A folder of other files is never replaced; a folder of another shape is refused naming the tensor.
        File.WriteAllText(Path.Combine(_directory, "notes.txt"), "mine");
        Assert.Contains("not a folder this program wrote", Assert.Throws<ArgumentException>(() =>
            ModelFolder.Write(_directory, model, Vocabulary(40), new Dictionary<string, string>())).Message);
        Assert.True(File.Exists(Path.Combine(_directory, "notes.txt")));
        using var parameters = ParameterSet.Of(model);
        var other = ModelFolder.Write(Path.Combine(_directory, "other"), Shape with { Router = RouterKind.TopK, Dim = 16 }, parameters, [],
            Vocabulary(40), new Dictionary<string, string>());
        Assert.Contains("has shape", Assert.Throws<ModelFolderException>(() => ModelFolder.Load(other, CPU)).Message);
    }

    [Fact]
    public void Generated_ids_become_text_in_whole_characters_and_a_seed_repeats_a_sample()
    {
        var text = "naïve 龘𝔘 café";
        var gpt2 = Microsoft.ML.Tokenizers.TiktokenTokenizer.CreateForModel("gpt-2").EncodeToIds(text).ToArray();
        var vocabulary = new Vocabulary([50256, -1, .. gpt2.Distinct()]);
        var (ids, unknown) = vocabulary.Encode(text + " zebra");
        Assert.True(unknown > 0);

        var decoder = new StreamingDecoder(vocabulary);
        var pieces = ids[..^unknown].Select(decoder.Append).ToList();
        Assert.Equal(text, string.Concat(pieces) + decoder.Flush());
        Assert.Contains("", pieces); // the rare characters' bytes span tokens: some tokens add nothing on their own
        Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD'));

        // Long runs of tokens that each end inside a character: the decoder never gives up on one.
        var rare = string.Concat(Enumerable.Repeat("龘𝔘𝔫𝔦", 6));
        var rareIds = Microsoft.ML.Tokenizers.TiktokenTokenizer.CreateForModel("gpt-2").EncodeToIds(rare).ToArray();
        var rareVocabulary = new Vocabulary([50256, -1, .. rareIds.Distinct()]);
        var rareDecoder = new StreamingDecoder(rareVocabulary);
        var streamed = string.Concat(rareVocabulary.Encode(rare).Ids.Select(rareDecoder.Append));
        Assert.Equal(rare, streamed + rareDecoder.Flush());

        float[] logits = [0.1f, 2f, 1.9f, -1f];
        Assert.Equal(1, new TokenSampler(0, 1, seed: 1).Next(logits));
        var a = new TokenSampler(1, 1, seed: 3);
        var b = new TokenSampler(1, 1, seed: 3);
        Assert.Equal(Enumerable.Range(0, 50).Select(_ => a.Next(logits)), Enumerable.Range(0, 50).Select(_ => b.Next(logits)));
        var nucleus = new TokenSampler(1, 0.4, seed: 3);
        Assert.All(Enumerable.Range(0, 50), _ => Assert.Equal(1, nucleus.Next(logits))); // 1 alone holds over 40 % of the mass
        Assert.Throws<ArgumentException>(() => new TokenSampler(-0.5, 1, seed: 1));
        Assert.Throws<ArgumentException>(() => new TokenSampler(1, 0, seed: 1));
        Assert.Throws<ArgumentException>(() => new TokenSampler(1, 1.5, seed: 1));
    }

    [Fact]
    public void Generation_never_samples_an_id_without_text_nor_yields_end_of_text()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = new MoeTransformer(Shape);
        // Ids 2 to 5 have text; the unknown id and 34 padded ids have none. An untrained model's logits are almost
        // uniform, so without the mask nearly every sample would be one of them.
        var vocabulary = new Vocabulary([50256, -1, 100, 101, 102, 103]).PaddedTo(40);
        using var trained = ModelFolder.Load(ModelFolder.Write(Path.Combine(_directory, "m"), model, vocabulary, new Dictionary<string, string>()), CPU);

        var sampled = Generation.Sample(trained, [2, 3], 60, new TokenSampler(1, 1, seed: 4)).ToList();

        Assert.NotEmpty(sampled);
        Assert.All(sampled, id => Assert.InRange(id, 2, 5)); // never the unknown id, a padded id, or end of text
    }

    [Fact]
    public void Evaluation_predicts_every_token_once_and_counts_every_routed_slot()
    {
        using var scope = NewDisposeScope();
        string[] documents = ["the cat sat on the mat and the dog sat on the log", "a cat and a dog"];
        var vocabularyIds = documents.SelectMany(d => Microsoft.ML.Tokenizers.TiktokenTokenizer.CreateForModel("gpt-2").EncodeToIds(d)).Distinct().ToArray();
        var vocabulary = new Vocabulary([50256, -1, .. vocabularyIds]);
        using var model = new MoeTransformer(Shape with { VocabSize = vocabulary.Size, ContextLength = 8 });
        using var trained = ModelFolder.Load(ModelFolder.Write(Path.Combine(_directory, "m"), model, vocabulary, new Dictionary<string, string>()), CPU);

        var evaluation = TextEvaluation.Run(trained, documents, batchSize: 2);

        var stream = documents.SelectMany(d => vocabulary.Encode(d).Ids.Append(TokenDataset.EndOfText)).ToArray();
        Assert.Equal(stream.Length - 1, evaluation.Tokens);
        Assert.Equal(0, evaluation.Unknown);
        Assert.All(evaluation.Layers, layer => Assert.Equal(evaluation.Tokens * 2, layer.Loads.Sum()));
        // The loss by hand: every position of one pass over the whole stream (the windows do not overlap in targets).
        var reference = 0.0;
        for (var start = 0; start < stream.Length - 1; start += 8)
        {
            var window = stream.Skip(start).Take(9).Select(id => (long)id).ToArray();
            var logits = trained.Model.forward(tensor(window[..^1]).unsqueeze(0))[0];
            reference += nn.functional.cross_entropy(logits, tensor(window[1..]), reduction: nn.Reduction.Sum).item<float>();
        }
        Assert.Equal(reference / evaluation.Tokens, evaluation.Loss, 4);
        Assert.Throws<ArgumentException>(() => TextEvaluation.Run(trained, [""]));
    }
}
