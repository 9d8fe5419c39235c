using Moe.Model.Network;
using Moe.Model.Training;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

public sealed class GradientClippingTests
{
    [Theory]
    [InlineData(0.01)] // clips
    [InlineData(1e6)] // leaves the gradients alone
    public void Clipping_in_tensor_operations_matches_libtorchs_clip_grad_norm(double maxNorm)
    {
        using var scope = NewDisposeScope();
        Tensor[] Gradients(MoeTransformer model, Func<MoeTransformer, double> clip, out double norm)
        {
            model.zero_grad();
            var tokens = randint(0, 128, [2, 16], generator: new Generator(3));
            var (total, _, _) = model.Loss(tokens, tokens);
            total.backward();
            norm = clip(model);
            return [.. model.parameters().Select(p => p.grad!.clone())];
        }

        manual_seed(5);
        using var model = new MoeTransformer(TrainingTests.Model() with { CpuFastPath = false });
        var state = model.state_dict().ToDictionary(p => p.Key, p => p.Value.clone());
        var expected = Gradients(model, m => nn.utils.clip_grad_norm_(m.parameters(), maxNorm), out var expectedNorm);
        model.load_state_dict(state);
        var actual = Gradients(model, m => GradientClipping.ClipByNorm(m.parameters(), maxNorm).item<float>(), out var actualNorm);

        Assert.Equal(expectedNorm, actualNorm, 1e-5 * expectedNorm);
        foreach (var (a, b) in expected.Zip(actual))
            Assert.True(a.allclose(b, rtol: 1e-5, atol: 1e-8));
    }
}
