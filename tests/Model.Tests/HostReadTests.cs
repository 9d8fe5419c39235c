using Moe.Model.Balancing;
using Moe.Model.Devices;
using Moe.Model.Network;
using Moe.Model.Routing;
using Moe.Model.Training;
using Moe.Model.Training.Rounds;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

/// <summary>
/// A step reads device values on the host at most 2 + L times: once per MoE layer for its loads, once for every
/// layer's histograms, once for the loss and gradient norm. Run on the CPU with the tensor solve (the C# kernel
/// off), so that the count is the one a GPU would see.
/// </summary>
public sealed class HostReadTests
{
    private static MoeModelConfig Small64(RouterKind router) =>
        ModelPresets.Get("small-64e").Model with { VocabSize = 128, Router = router, CpuFastPath = false };

    private static readonly TrainingConfig Training = TrainingTests.Training with { BatchSize = 2 };

    [Theory]
    [InlineData(RouterKind.Bip)]
    [InlineData(RouterKind.QuantileBalancing)]
    public void A_step_with_balancer_summaries_reads_the_host_at_most_two_plus_L_times(RouterKind router)
    {
        using var worker = new RoundWorker(Small64(router), Training, TrainingTests.Data.Value, innerSteps: 3, clipPrices: router == RouterKind.Bip);
        var layers = worker.Layers.Count;
        var kernelReads = HostReads.KernelCount;
        for (var h = 0; h < 3; h++)
        {
            // From the second step on, the balancers' q arrives as it does in a cluster.
            var globalQ = Enumerable.Range(0, layers).Select(_ => h == 0 ? null : Enumerable.Range(0, 64).Select(j => 0.001f * j).ToArray()).ToArray();
            var (metrics, summaries) = worker.Step(shard: 0, h, h, globalQ, [.. Enumerable.Repeat(ReadoutWindow.Fixed(HistogramRange.Default, 64), layers)]);

            Assert.False(metrics.Skipped);
            Assert.Equal(layers, summaries.Count);
            Assert.All(summaries, s => Assert.Equal(Training.BatchSize * 128L, s.Histogram.Tokens));
            Assert.InRange(metrics.HostReads, layers + 1, 2 + layers);
        }
        Assert.Equal(kernelReads, HostReads.KernelCount);
    }

    [Theory]
    [InlineData(RouterKind.TopK)]
    [InlineData(RouterKind.LossFree)]
    [InlineData(RouterKind.LossControlled)]
    public void A_step_without_summaries_reads_the_host_once_per_layer_and_once_for_the_loss(RouterKind router)
    {
        using var loop = new TrainingLoop(Small64(router), Training, TrainingTests.Data.Value);
        for (var step = 0; step < 2; step++)
            Assert.Equal(1 + loop.Model.MoeLayers.Count, loop.TrainStep().HostReads);
    }

    [Fact]
    public void The_cpu_kernel_counts_its_reads_apart()
    {
        using var loop = new TrainingLoop(Small64(RouterKind.Bip) with { CpuFastPath = true }, Training, TrainingTests.Data.Value);
        var kernelReads = HostReads.KernelCount;
        var metrics = loop.TrainStep();
        Assert.Equal(1 + loop.Model.MoeLayers.Count, metrics.HostReads);
        Assert.Equal(2 * loop.Model.MoeLayers.Count, HostReads.KernelCount - kernelReads); // q and the scores, per layer
    }

    [Fact]
    public void Routing_called_directly_still_refuses_non_finite_scores()
    {
        using var scope = NewDisposeScope();
        var scores = rand(8, 4);
        scores[3, 1] = tensor(float.NaN);
        foreach (var kind in Enum.GetValues<RouterKind>())
        {
            var router = Routers.Create(kind, new RouterConfig(4, 2));
            Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => router.Route(scores)).Message);
        }
    }
}
