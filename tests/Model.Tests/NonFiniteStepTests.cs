using Moe.Model.Network;
using Moe.Model.Routing;
using Moe.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

public sealed class NonFiniteStepTests
{
    private static void Poison(TrainingLoop loop)
    {
        using var nan = float.NaN.ToScalar();
        using (no_grad())
            loop.Model.MoeLayers[0].Expert(0).parameters().First().fill_(nan);
    }

    [Theory]
    [InlineData(RouterKind.Bip)]
    [InlineData(RouterKind.QuantileBalancing)]
    [InlineData(RouterKind.LossFree)]
    public void A_step_with_a_non_finite_loss_changes_nothing_and_is_counted(RouterKind router)
    {
        foreach (var cpuKernel in new[] { true, false })
            NonFiniteStep(TrainingTests.Model(router) with { CpuFastPath = cpuKernel });
    }

    private static void NonFiniteStep(MoeModelConfig model)
    {
        using var scope = NewDisposeScope();
        using var loop = new TrainingLoop(model, TrainingTests.Training, TrainingTests.Data.Value);
        loop.TrainStep(); // prices and bias away from zero
        loop.TrainStep();
        Poison(loop);
        var parameters = loop.Model.parameters().Select(p => p.detach().clone()).ToArray();
        var states = loop.Model.RouterStates();
        var called = false;

        var metrics = loop.TrainStep(routed: _ => called = true);

        Assert.True(metrics.Skipped);
        Assert.False(called);
        Assert.Equal(1, loop.SkippedSteps);
        Assert.Equal(3, loop.Step);
        foreach (var (before, after) in parameters.Zip(loop.Model.parameters()))
            Assert.True(before.allclose(after, rtol: 0, atol: 0, equal_nan: true), "a parameter moved");
        foreach (var (before, layer) in states.Zip(loop.Model.MoeLayers))
            Assert.True(before!.allclose(layer.Router.State!, rtol: 0, atol: 0), "a router's state changed");
    }

    [Fact]
    public void Training_stops_after_ten_non_finite_steps_in_a_row()
    {
        using var loop = new TrainingLoop(TrainingTests.Model(), TrainingTests.Training, TrainingTests.Data.Value);
        Poison(loop);
        for (var step = 1; step < TrainingLoop.MaxSkippedInARow; step++)
            Assert.True(loop.TrainStep().Skipped);
        var error = Assert.Throws<InvalidOperationException>(() => loop.TrainStep());
        Assert.Contains("lower the learning rate", error.Message);
    }
}
