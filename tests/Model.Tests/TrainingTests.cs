using Moe.Model.Data;
using Moe.Model.Network;
using Moe.Model.Routing;
using Moe.Model.Training;

namespace Moe.Model.Tests;

public sealed class TrainingTests : IDisposable
{
    internal static readonly Lazy<TokenDataset> Data = new(() =>
    {
        var random = new Random(5);
        string[] subjects = ["The jury", "A county clerk", "The mayor", "Every voter", "The governor"];
        string[] verbs = ["said", "reported", "denied", "announced", "questioned"];
        string[] objects = ["the election", "the new budget", "a bond issue", "the primary", "the tax plan"];
        var documents = Enumerable.Range(0, 60).Select(_ => string.Join(' ', Enumerable.Range(0, 30).Select(_ =>
            $"{subjects[random.Next(5)]} {verbs[random.Next(5)]} {objects[random.Next(5)]}."))).ToArray();
        return TokenDataset.Build(documents, vocabSize: 128);
    });

    private readonly string _directory = Directory.CreateTempSubdirectory("training-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    internal static MoeModelConfig Model(RouterKind router = RouterKind.Bip) => new()
    {
        VocabSize = 128,
        ContextLength = 32,
        Dim = 32,
        Layers = 2,
        Heads = 2,
        Experts = 4,
        TopK = 2,
        ExpertHidden = 32,
        Router = router,
    };

    internal static readonly TrainingConfig Training = new() { Steps = 30, BatchSize = 4, LearningRate = 1e-2, WarmupSteps = 3, EvaluationBatches = 2 };

    [Fact]
    public void Tiny_model_learns_and_reports_balance_every_step()
    {
        using var loop = new TrainingLoop(Model(), Training, Data.Value);
        var before = loop.Evaluate();
        var steps = Enumerable.Range(0, 30).Select(_ => loop.TrainStep()).ToList();
        var after = loop.Evaluate();

        Assert.True(after.Loss < before.Loss - 1, $"validation loss {before.Loss:F3} -> {after.Loss:F3}");
        Assert.True(steps[^1].Loss < steps[0].Loss);
        Assert.All(steps, s => Assert.Equal(2, s.Layers.Count));
        Assert.All(steps, s => Assert.Equal(4 * 32 * 2, s.Layers[0].Loads.Sum()));
        Assert.All(steps, s => Assert.Equal(4 * 32, s.Tokens));
        Assert.Equal(2, after.Layers.Count);
        Assert.True(after.Perplexity < before.Perplexity);
    }

    [Fact]
    public void Gradient_accumulation_over_micro_batches_trains_as_one_batch_that_many_times_larger()
    {
        // Top-K routes each token on its own: the micro-batches route as the whole batch does.
        var whole = Training with { BatchSize = 8 };
        var parts = Training with { BatchSize = 2, GradientAccumulation = 4 };
        using var one = new TrainingLoop(Model(RouterKind.TopK), whole, Data.Value);
        using var four = new TrainingLoop(Model(RouterKind.TopK), parts, Data.Value);

        var a = Enumerable.Range(0, 3).Select(_ => one.TrainStep()).ToList();
        var b = Enumerable.Range(0, 3).Select(_ => four.TrainStep()).ToList();

        Assert.Equal(8, parts.StepBatch);
        Assert.Equal(a.Select(m => m.Tokens), b.Select(m => m.Tokens)); // the same sequences per step
        Assert.Equal(a.Select(m => m.Layers[0].Loads), b.Select(m => m.Layers[0].Loads)); // the micro-batches' routing adds up
        for (var k = 0; k < a.Count; k++)
        {
            Assert.Equal(a[k].Loss, b[k].Loss, 1e-4);
            Assert.Equal(a[k].GradientNorm, b[k].GradientNorm, 1e-4);
        }
        foreach (var (p, q) in one.Model.parameters().Zip(four.Model.parameters()))
            Assert.True(p.allclose(q, rtol: 1e-4, atol: 1e-5), "the parameters after three steps differ");
    }

    [Fact]
    public void Validation_does_not_change_the_routers_state()
    {
        using var loop = new TrainingLoop(Model(RouterKind.Bip), Training, Data.Value);
        loop.TrainStep();
        var q = TestScores.ToArray(loop.Model.MoeLayers[0].Router.State!);
        loop.Evaluate();
        Assert.Equal(q, TestScores.ToArray(loop.Model.MoeLayers[0].Router.State!));
    }

    [Theory]
    [InlineData(RouterKind.Bip)]
    [InlineData(RouterKind.LossFree)]
    public void Resuming_from_a_checkpoint_continues_the_same_run(RouterKind router)
    {
        var straight = new List<double>();
        using (var loop = new TrainingLoop(Model(router), Training, Data.Value))
        {
            for (var s = 0; s < 8; s++)
                straight.Add(loop.TrainStep().Loss);
        }

        var resumed = new List<double>();
        string folder;
        using (var loop = new TrainingLoop(Model(router), Training, Data.Value))
        {
            for (var s = 0; s < 4; s++)
                resumed.Add(loop.TrainStep().Loss);
            folder = Checkpoint.Save(loop, _directory);
        }
        Assert.Equal(folder, Checkpoint.FindLatest(_directory));
        using (var loop = Checkpoint.Load(folder, Data.Value))
        {
            Assert.Equal(4, loop.Step);
            for (var s = 0; s < 4; s++)
                resumed.Add(loop.TrainStep().Loss);
        }

        for (var s = 0; s < 8; s++)
            Assert.True(Math.Abs(straight[s] - resumed[s]) < 1e-6, $"step {s}: {string.Join(", ", straight)} vs {string.Join(", ", resumed)}");
    }

    [Theory]
    [InlineData("model.bin")]
    [InlineData("optimizer.bin")]
    [InlineData("routers.bin")]
    [InlineData("state.json")]
    public void Damaged_or_partial_checkpoints_are_refused(string file)
    {
        string folder;
        using (var loop = new TrainingLoop(Model(), Training, Data.Value))
        {
            loop.TrainStep();
            folder = Checkpoint.Save(loop, _directory);
        }
        var path = Path.Combine(folder, file);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^1]); // truncated
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Load(folder, Data.Value));
        Assert.Contains(file, error.Message);
        Assert.Contains("Refusing", error.Message);

        File.WriteAllBytes(path, bytes);
        File.Delete(Path.Combine(folder, "manifest.json"));
        Assert.Contains("partial", Assert.Throws<CheckpointException>(() => Checkpoint.Load(folder, Data.Value)).Message);
    }

    [Fact]
    public void Devices_resolve_and_unknown_or_missing_ones_are_named()
    {
        Assert.Equal(TorchSharp.DeviceType.CPU, TrainingDevice.Resolve("CPU").type);
        var auto = TrainingDevice.Resolve("auto").type;
        Assert.Equal(TorchSharp.torch.cuda.is_available() ? TorchSharp.DeviceType.CUDA : TorchSharp.DeviceType.CPU, auto);
        Assert.Contains("Use auto, cpu, cuda", Assert.Throws<ArgumentException>(() => TrainingDevice.Resolve("tpu")).Message);
        if (!TorchSharp.torch.cuda.is_available())
            Assert.Contains("no CUDA device", Assert.Throws<ArgumentException>(() => TrainingDevice.Resolve("cuda:0")).Message);
    }

    [Theory]
    [InlineData("auto", true)]
    [InlineData("CPU", true)]
    [InlineData("cuda", true)]
    [InlineData("cuda:12", true)]
    [InlineData("tpu", false)]
    [InlineData("cuda:x", false)]
    [InlineData("cuda:", false)]
    [InlineData("cpu\n", false)]
    [InlineData("", false)]
    public void Device_names_are_checked_without_looking_for_the_device(string name, bool known) =>
        Assert.Equal(known, TrainingDevice.IsName(name));

    [Fact]
    public void Learning_rate_warms_up_then_decays_to_the_floor()
    {
        var config = new TrainingConfig { Steps = 100, WarmupSteps = 10, LearningRate = 1e-3, MinLearningRateRatio = 0.1 };
        Assert.Equal(1e-4, LearningRateSchedule.At(0, config), 12);
        Assert.Equal(1e-3, LearningRateSchedule.At(9, config), 12);
        Assert.Equal(1e-3, LearningRateSchedule.At(10, config), 12);
        Assert.Equal(0.55e-3, LearningRateSchedule.At(55, config), 12);
        Assert.Equal(1e-4, LearningRateSchedule.At(100, config), 12);
    }
}
