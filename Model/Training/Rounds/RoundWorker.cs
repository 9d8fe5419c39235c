using Moe.Model.Balancing;
using Moe.Model.Data;
using Moe.Model.Devices;
using Moe.Model.Network;
using static TorchSharp.torch;

namespace Moe.Model.Training.Rounds;

/// <summary>
/// One trainer's side of a DiLoCo round, without any cluster code: load the global parameters, take H inner
/// AdamW steps on a data shard (the inner optimiser's state carries over between rounds, as in DiLoCo), and
/// write the delta (global minus local). Every MoE layer summarises its batches for the layer balancers.
/// A round may also start before its global parameters exist (overlapped rounds): it continues from the local
/// parameters the last round ended with, and <see cref="Rebase"/> moves the progress made since onto the global
/// parameters once they arrive.
/// </summary>
public sealed class RoundWorker : IDisposable
{
    private readonly bool _clipPrices;
    private ParameterSet _global = new([]);

    /// <param name="training">Steps is the job's total number of global steps (rounds x H): it shapes the schedule.</param>
    /// <param name="clipPrices">Whether token prices are clipped at 0, as the layers' balancers clip q (BIP).</param>
    public RoundWorker(MoeModelConfig model, TrainingConfig training, TokenDataset data, int innerSteps, bool clipPrices)
    {
        Loop = new TrainingLoop(model, training, data);
        Shards = new DataShards(Loop.Sampler.Sequences, innerSteps, training.StepBatch);
        _clipPrices = clipPrices;
    }

    public TrainingLoop Loop { get; }

    public DataShards Shards { get; }

    public IReadOnlyList<MoeFeedForward> Layers => Loop.Model.MoeLayers;

    /// <summary>Starts a round from the global parameters (as <see cref="ParameterFile.Load(Stream, string)"/> reads them); the worker owns them now.</summary>
    public void StartRound(ParameterSet global)
    {
        _global.Dispose();
        _global = global;
        ParameterFile.CopyInto(Loop.Model, _global);
        AwaitingGlobal = false;
    }

    /// <summary>
    /// Starts a round from where the last one ended, before the global parameters of this round exist: the local
    /// parameters stand in for them until <see cref="Rebase"/>. The delta is the same either way (the progress
    /// made in this round), so it can be saved before the rebase.
    /// </summary>
    public void ContinueRound()
    {
        var local = ParameterSet.Of(Loop.Model);
        _global.Dispose();
        _global = local;
        AwaitingGlobal = true;
    }

    /// <summary>True between <see cref="ContinueRound"/> and <see cref="Rebase"/>.</summary>
    public bool AwaitingGlobal { get; private set; }

    /// <summary>
    /// The global parameters of a continued round arrived: the model becomes global + (local - start), the progress
    /// of this round's steps so far moved onto them, as if the round had started there (its first steps then saw
    /// slightly stale parameters, which is what overlapping the outer step with the next round costs). Takes
    /// ownership of <paramref name="global"/>.
    /// </summary>
    public void Rebase(ParameterSet global)
    {
        if (!AwaitingGlobal)
            throw new InvalidOperationException("Only a continued round is rebased, once.");
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var local = ParameterFile.CheckMatches(Loop.Model, global, "the global parameters");
            for (var k = 0; k < local.Count; k++)
                local[k].parameter.PlusInPlace((global[k].Value - _global[k].Value).to(local[k].parameter.device));
        }
        _global.Dispose();
        _global = global;
        AwaitingGlobal = false;
    }

    /// <summary>
    /// Inner step <paramref name="innerStep"/> of the round on <paramref name="shard"/>, at global step
    /// <paramref name="globalStep"/>. <paramref name="globalQ"/> holds, per MoE layer, the balancer's q to warm-start
    /// from, or null to keep the layer's own; <paramref name="windows"/> the window to bin its summary with. Returns
    /// what the step measured and each layer's summary for its balancer.
    /// </summary>
    public (StepMetrics Metrics, IReadOnlyList<LayerSummary> Summaries) Step(long shard, int innerStep, int globalStep,
        IReadOnlyList<float[]?> globalQ, IReadOnlyList<ReadoutWindow> windows)
    {
        for (var k = 0; k < Layers.Count; k++)
        {
            if (globalQ[k] is { } q)
            {
                if (!Array.TrueForAll(q, float.IsFinite))
                    throw new ArgumentException($"The balancer's q of MoE layer {k} contains NaN or infinite values.", nameof(globalQ));
                using var state = tensor(q);
                Layers[k].Router.LoadState(state, checkFinite: false); // checked here, on the host
            }
        }
        Loop.Step = globalStep;
        using var scope = NewDisposeScope();
        IReadOnlyList<LayerSummary> summaries = [];
        var metrics = Loop.TrainStep(Loop.Sampler.At(Shards.Positions(shard, innerStep)), routing => summaries = LayerSummary.Of(routing, windows, _clipPrices));
        return (metrics, summaries);
    }

    /// <summary>Global minus local parameters, DiLoCo's outer gradient of this trainer, on the CPU; the caller owns them.</summary>
    public ParameterSet Delta()
    {
        if (_global.Count == 0)
            throw new InvalidOperationException("No round was started: load the global parameters first.");
        using var scope = NewDisposeScope();
        var local = Loop.Model.named_parameters().ToList();
        return new ParameterSet(_global.Select((g, k) => g with { Value = (g.Value - local[k].parameter.detach().cpu()).MoveToOuterDisposeScope() }));
    }

    public void Dispose()
    {
        _global.Dispose();
        Loop.Dispose();
    }
}
