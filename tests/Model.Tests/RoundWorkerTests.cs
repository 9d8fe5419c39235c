using Moe.Model.Balancing;
using Moe.Model.Devices;
using Moe.Model.Training.Rounds;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

public sealed class RoundWorkerTests
{
    private const int InnerSteps = 2;

    private static RoundWorker NewWorker() =>
        new(TrainingTests.Model(), TrainingTests.Training, TrainingTests.Data.Value, InnerSteps, clipPrices: true);

    private static void Steps(RoundWorker worker, int round)
    {
        for (var h = 0; h < InnerSteps; h++)
            worker.Step(shard: round, h, (round * InnerSteps) + h, new float[]?[worker.Layers.Count],
                [.. worker.Layers.Select(_ => ReadoutWindow.Fixed(HistogramRange.Default, TrainingTests.Model().Experts))]);
    }

    private static ParameterSet Parameters(RoundWorker worker) => ParameterSet.Of(worker.Loop.Model);

    private static float MaxDifference(IReadOnlyList<NamedTensor> a, IReadOnlyList<NamedTensor> b) =>
        a.Zip(b).Max(p => (p.First.Value - p.Second.Value).abs().max().item<float>());

    [Fact]
    public void A_continued_round_moves_its_progress_onto_the_global_parameters_when_they_arrive()
    {
        using var scope = NewDisposeScope();
        using var worker = NewWorker();
        worker.StartRound(Parameters(worker));
        Steps(worker, round: 0);
        var end = Parameters(worker);

        worker.ContinueRound();
        Assert.True(worker.AwaitingGlobal);
        Steps(worker, round: 1);
        var progressed = Parameters(worker);
        var delta = worker.Delta();
        // What an outer step could have made of round 0: anything near where it ended.
        manual_seed(11);
        var global = new ParameterSet(end.Select(p => p with { Value = p.Value.Plus(randn_like(p.Value).Times(0.01f)) }));
        worker.Rebase(global.Copy());

        Assert.False(worker.AwaitingGlobal);
        // The delta is this round's progress whether it is saved before or after the rebase.
        Assert.True(MaxDifference(delta, [.. end.Zip(progressed).Select(p => p.First with { Value = p.First.Value - p.Second.Value })]) < 1e-6f);
        Assert.True(MaxDifference(delta, worker.Delta()) < 1e-5f);
        // The model is the global parameters plus that progress.
        NamedTensor[] expected = [.. global.Zip(delta).Select(p => p.First with { Value = p.First.Value - p.Second.Value })];
        Assert.True(MaxDifference(Parameters(worker), expected) < 1e-5f);
        Assert.True(MaxDifference(Parameters(worker), progressed) > 1e-3f, "the rebase changed nothing");
    }

    [Fact]
    public void A_rebase_needs_a_continued_round_and_parameters_of_the_models_shape()
    {
        using var scope = NewDisposeScope();
        using var worker = NewWorker();
        worker.StartRound(Parameters(worker));
        Assert.Throws<InvalidOperationException>(() => worker.Rebase(Parameters(worker)));

        worker.ContinueRound();
        var wrong = new ParameterSet(Parameters(worker).Select((p, k) => k == 1 ? p with { Value = zeros(3) } : p));
        var error = Assert.Throws<InvalidDataException>(() => worker.Rebase(wrong));
        Assert.Contains(wrong[1].Name, error.Message, StringComparison.Ordinal);
        Assert.True(worker.AwaitingGlobal);
    }
}
