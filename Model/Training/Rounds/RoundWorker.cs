using Moe.Model.Balancing;
using Moe.Model.Data;
using Moe.Model.Network;
using static TorchSharp.torch;

namespace Moe.Model.Training.Rounds;

/// <summary>
/// One trainer's side of a DiLoCo round, without any cluster code: load the global parameters, take H inner
/// AdamW steps on a data shard (the inner optimiser's state carries over between rounds, as in DiLoCo), and
/// write the delta (global minus local). Every MoE layer summarises its batches for the layer balancers.
/// </summary>
public sealed class RoundWorker : IDisposable
{
    private List<(string Name, Tensor Value)> _global = [];

    /// <param name="training">Steps is the job's total number of global steps (rounds x H): it shapes the schedule.</param>
    public RoundWorker(MoeModelConfig model, TrainingConfig training, TokenDataset data, int innerSteps, HistogramRange summaryRange)
    {
        Loop = new TrainingLoop(model, training, data);
        Shards = new DataShards(Loop.Sampler.Sequences, innerSteps, training.BatchSize);
        foreach (var layer in Loop.Model.MoeLayers)
            layer.SummaryRange = summaryRange;
    }

    public TrainingLoop Loop { get; }

    public DataShards Shards { get; }

    public IReadOnlyList<MoeFeedForward> Layers => Loop.Model.MoeLayers;

    /// <summary>Starts a round from the global parameters (as <see cref="ParameterFile.Load(Stream, string)"/> reads them); the worker owns them now.</summary>
    public void StartRound(List<(string Name, Tensor Value)> global)
    {
        DisposeGlobal();
        _global = global;
        ParameterFile.CopyInto(Loop.Model, _global);
    }

    /// <summary>
    /// Inner step <paramref name="innerStep"/> of the round on <paramref name="shard"/>, at global step
    /// <paramref name="globalStep"/>. <paramref name="globalQ"/> holds, per MoE layer, the balancer's q to warm-start
    /// from, or null to keep the layer's own.
    /// </summary>
    public StepMetrics Step(long shard, int innerStep, int globalStep, IReadOnlyList<float[]?> globalQ)
    {
        for (var k = 0; k < Layers.Count; k++)
        {
            if (globalQ[k] is { } q)
            {
                using var state = tensor(q);
                Layers[k].Router.LoadState(state);
            }
        }
        Loop.Step = globalStep;
        using var scope = NewDisposeScope();
        return Loop.TrainStep(Loop.Sampler.At(Shards.Positions(shard, innerStep)));
    }

    /// <summary>The layer's local q after the last step (float32, host).</summary>
    public float[] LocalQ(int layer) => Layers[layer].Router.State!.cpu().data<float>().ToArray();

    /// <summary>Writes global minus local parameters: DiLoCo's outer gradient of this trainer.</summary>
    public void SaveDelta(Stream stream)
    {
        if (_global.Count == 0)
            throw new InvalidOperationException("No round was started: load the global parameters first.");
        using var scope = NewDisposeScope();
        var local = Loop.Model.named_parameters().ToList();
        ParameterFile.Save(stream, _global.Select((g, k) => (g.Name, g.Value - local[k].parameter.detach().cpu())));
    }

    public void Dispose()
    {
        DisposeGlobal();
        Loop.Dispose();
    }

    private void DisposeGlobal()
    {
        foreach (var (_, value) in _global)
            value.Dispose();
        _global = [];
    }
}
