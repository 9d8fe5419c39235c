using Moe.Actors.Training;
using Moe.Model.Network;
using Moe.Model.Routing;

namespace Moe.Actors.Tests.Training;

public sealed class JobSpecTests
{
    [Fact]
    public void The_shape_given_overrides_the_preset_and_the_rest_comes_from_it()
    {
        var preset = ModelPresets.Get("tiny");
        var spec = new JobSpec
        {
            JobId = "j",
            Preset = "tiny",
            Layers = 3,
            Dim = 96,
            Heads = 6,
            Experts = 16,
            TopK = 4,
            ScoreFunction = ScoreFunction.Sigmoid,
            WarmupSteps = 7,
            WeightDecay = 0.01,
            GradientClip = 0.5,
        };

        spec.Validate();
        var model = spec.Resolve().ResolvedModel!;
        var training = spec.Resolve().ResolvedTraining!;

        Assert.Equal((3, 96, 6, 16, 4, ScoreFunction.Sigmoid), (model.Layers, model.Dim, model.Heads, model.Experts, model.TopK, model.ScoreFunction));
        Assert.Equal((preset.Model.VocabSize, preset.Model.ContextLength, preset.Model.ExpertHidden), (model.VocabSize, model.ContextLength, model.ExpertHidden));
        Assert.Equal((7, 0.01, 0.5), (training.WarmupSteps, training.WeightDecay, training.GradientClip));
        Assert.Equal(3, spec.MoeLayers);
    }

    [Theory]
    [InlineData("Heads", "Job:Dim: Dim (32) must split into 3 heads")]
    [InlineData("TopK", "Job:TopK: top-K must satisfy 1 <= K <= experts (4), got K = 9")]
    [InlineData("VocabSize", "Job:VocabSize: VocabSize must be between 3 and 50258")]
    [InlineData("Layers", "Job:Layers: Layers must be at least 1, got 0")]
    [InlineData("DenseLayers", "Job:DenseLayers = 2 is invalid: use fewer than the 2 layers")]
    [InlineData("WeightDecay", "Job:WeightDecay: WeightDecay must be 0 or more")]
    public void A_shape_that_cannot_be_built_is_refused_naming_the_key_the_value_and_the_rule(string key, string expected)
    {
        var spec = new JobSpec { JobId = "j", Preset = "tiny" };
        spec = key switch
        {
            "Heads" => spec with { Heads = 3 },
            "TopK" => spec with { TopK = 9 },
            "VocabSize" => spec with { VocabSize = 60_000 },
            "Layers" => spec with { Layers = 0 },
            "DenseLayers" => spec with { DenseLayers = 2 },
            _ => spec with { WeightDecay = -1 },
        };

        var error = Assert.Throws<ArgumentException>(spec.Validate);

        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, false, 0)] // one node: the central step, deltas in memory
    [InlineData(2, false, 2)]
    [InlineData(8, false, 8)]
    [InlineData(8, true, 0)] // the coordinator serves every byte over HTTP: slicing would add to them
    public void A_job_without_slices_gets_one_per_trainer_node_unless_one_node_or_the_coordinator_serves_the_blobs(int nodes, bool serves, int slices)
    {
        Assert.Equal(slices, JobSpec.DefaultSlices(nodes, serves));
        Assert.Equal(slices > 0, new JobSpec { JobId = "j", Slices = JobSpec.DefaultSlices(nodes, serves) }.Sliced);
    }

    [Fact]
    public void A_negative_slice_count_is_refused_by_name() =>
        Assert.StartsWith("Job:Slices = -1 is invalid", Assert.Throws<ArgumentException>(new JobSpec { JobId = "j", Slices = -1 }.Validate).Message, StringComparison.Ordinal);
}
