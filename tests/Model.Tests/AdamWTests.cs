using Moe.Model.Network;
using Moe.Model.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

public sealed class AdamWTests
{
    [Fact]
    public void Steps_and_saved_state_are_libtorchs_AdamW_bit_for_bit()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var reference = new MoeTransformer(TrainingTests.Model());
        using var kept = new MoeTransformer(TrainingTests.Model());
        kept.load_state_dict(reference.state_dict());
#pragma warning disable RS0030 // the optimizer the build bans, as the reference
        using var referenceOptimizer = optim.AdamW(reference.parameters(), lr: 3e-3, beta1: 0.9, beta2: 0.95, weight_decay: 0.1);
#pragma warning restore RS0030
        using var keptOptimizer = new Training.AdamW(kept.parameters(), lr: 3e-3, beta1: 0.9, beta2: 0.95, weightDecay: 0.1);

        for (var step = 0; step < 4; step++)
        {
            var tokens = randint(0, 128, [2, 16], generator: new Generator((ulong)step + 1));
            foreach (var (model, optimizer) in new (MoeTransformer, OptimizerHelper)[] { (reference, referenceOptimizer), (kept, keptOptimizer) })
            {
                foreach (var group in optimizer.ParamGroups)
                    group.LearningRate = 3e-3 / (step + 1); // as the schedule changes it between steps
                optimizer.zero_grad();
                model.Loss(tokens, tokens).Total.backward();
                optimizer.step();
            }
        }

        foreach (var (a, b) in reference.parameters().Zip(kept.parameters()))
            Assert.True(a.equal(b).all().item<bool>());
        Assert.Equal(Saved(referenceOptimizer), Saved(keptOptimizer));
    }

    private static byte[] Saved(OptimizerHelper optimizer)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            optimizer.save_state_dict(writer);
        return stream.ToArray();
    }
}
