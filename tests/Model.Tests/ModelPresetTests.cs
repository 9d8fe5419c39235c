using Moe.Model.Network;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

public class ModelPresetTests
{
    [Fact]
    public void Every_preset_is_valid_and_names_are_found_case_insensitively()
    {
        foreach (var preset in ModelPresets.All)
        {
            preset.Model.Validate();
            preset.Training.Validate();
            Assert.Same(preset, ModelPresets.Get(preset.Name.ToUpperInvariant()));
        }
        Assert.Contains("tiny, small-16e, small-64e", Assert.Throws<ArgumentException>(() => ModelPresets.Get("huge")).Message);
        Assert.Equal((16, 2), (ModelPresets.Get("small-16e").Model.Experts, ModelPresets.Get("small-16e").Model.TopK));
        Assert.Equal(64, ModelPresets.Get("small-64e").Model.Experts);
    }

    [Fact]
    public void Flop_count_adds_up_the_matrix_products_of_one_token()
    {
        var config = new MoeModelConfig
        {
            VocabSize = 100,
            ContextLength = 10,
            Dim = 8,
            Layers = 2,
            Heads = 2,
            DenseLayers = 1,
            DenseHidden = 16,
            Experts = 4,
            TopK = 2,
            ExpertHidden = 6,
            SharedExpert = true,
        };
        double attention = (2 * 8 * 24) + (2 * 8 * 8) + (4 * 10 * 8);
        double moe = (2 * 8 * 4) + (2 * 6 * 8 * 6) + (6 * 8 * 6);
        double dense = 6 * 8 * 16;
        double head = 2 * 8 * 100;
        Assert.Equal((2 * attention) + dense + moe + head, ModelFlops.ForwardPerToken(config));
        Assert.Equal(3 * ModelFlops.ForwardPerToken(config), ModelFlops.TrainingPerToken(config));
    }

    [Fact]
    public void Parameter_count_matches_the_configuration()
    {
        using var scope = NewDisposeScope();
        var config = ModelPresets.Get("tiny").Model;
        using var model = new MoeTransformer(config);
        long d = config.Dim, h = config.ExpertHidden, m = config.Experts;
        var perLayer = (4 * d * d) + (2 * d) + (d * m) + (m * 3 * d * h);
        var expected = (config.VocabSize * d) + (config.Layers * perLayer) + d;
        Assert.Equal(expected, model.parameters().Sum(p => p.numel()));
        Assert.Equal(expected, config.ParameterCount);
    }

    [Fact]
    public void Parameter_count_holds_with_dense_layers_and_a_shared_expert()
    {
        using var scope = NewDisposeScope();
        var config = ModelPresets.Get("tiny").Model with { Layers = 3, DenseLayers = 1, SharedExpert = true };
        using var model = new MoeTransformer(config);

        Assert.Equal(model.parameters().Sum(p => p.numel()), config.ParameterCount);
    }
}
