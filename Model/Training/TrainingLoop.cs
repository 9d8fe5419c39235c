using System.Diagnostics;
using Moe.Model.Balancing;
using Moe.Model.Data;
using Moe.Model.Devices;
using Moe.Model.Network;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Moe.Model.Training;

/// <summary>
/// Single-process training of the MoE model: AdamW, warmup then cosine decay, gradient clipping, and after every
/// step the routers' own update (Loss-Free's bias). Every tensor of a step lives in that step's dispose scope.
/// </summary>
public sealed class TrainingLoop : IDisposable
{
    private readonly AdamW _optimizer;
    private readonly SequenceSampler _validation;
    private int _skippedInARow;

    public TrainingLoop(MoeModelConfig model, TrainingConfig training, TokenDataset data)
    {
        training.Validate();
        if (model.VocabSize != data.VocabSize)
            throw new ArgumentException(
                $"The model's vocabulary ({model.VocabSize}) differs from the dataset's ({data.VocabSize}).", nameof(model));
        Training = training;
        manual_seed(training.Seed);
        Device = TrainingDevice.Resolve(training.Device);
        if (Device.type == DeviceType.CUDA)
        {
            backends.cuda.matmul.allow_tf32 = training.AllowTf32;
            backends.cudnn.allow_tf32 = training.AllowTf32;
        }
        Model = new MoeTransformer(model);
        Model.to(Device);
        _optimizer = new AdamW(Model.parameters(), lr: training.LearningRate, beta1: 0.9, beta2: 0.95, weightDecay: training.WeightDecay);
        Sampler = new SequenceSampler(data.Train, model.ContextLength, training.Seed);
        _validation = new SequenceSampler(data.Validation, model.ContextLength, training.Seed);
    }

    public MoeTransformer Model { get; }

    public TrainingConfig Training { get; }

    public Device Device { get; }

    public SequenceSampler Sampler { get; }

    internal AdamW Optimizer => _optimizer;

    /// <summary>
    /// Steps taken so far (the next step's index), which drives the learning-rate schedule; cluster trainers set
    /// it to the global step at the start of each round.
    /// </summary>
    public int Step { get; set; }

    /// <summary>One optimiser step on the sampler's next batch (see the overload for <paramref name="routed"/>).</summary>
    public StepMetrics TrainStep(Action<IReadOnlyList<LayerRouting>>? routed = null)
    {
        using var scope = NewDisposeScope();
        return TrainStep(Sampler.Next(Training.StepBatch), routed);
    }

    /// <summary>
    /// One optimiser step on the given batch ([batch, length] inputs and next-token targets; the caller disposes
    /// them), in <see cref="TrainingConfig.GradientAccumulation"/> micro-batches whose gradients add up to the whole
    /// batch's. <paramref name="routed"/> sees each MoE layer's routing of the whole batch after the step, while its
    /// tensors still live. A step whose loss or gradient norm is not finite is skipped (see <see cref="StepMetrics.Skipped"/>):
    /// no parameter moves, every router's state is put back, and <paramref name="routed"/> is not called.
    /// </summary>
    public StepMetrics TrainStep((Tensor Inputs, Tensor Targets) batch, Action<IReadOnlyList<LayerRouting>>? routed = null)
    {
        using var scope = NewDisposeScope();
        var watch = Stopwatch.StartNew();
        var readsBefore = HostReads.Count;
        Model.train();
        var learningRate = LearningRateSchedule.At(Step, Training);
        foreach (var group in _optimizer.ParamGroups)
            group.LearningRate = learningRate;

        var (inputs, targets) = (batch.Inputs.to(Device), batch.Targets.to(Device));
        var routerStates = Model.RouterStates();
        _optimizer.zero_grad();
        var (loss, routing) = AccumulateGradients(inputs, targets);
        var norm = GradientClipping.ClipByNorm(Model.parameters(), Training.GradientClip);
        // The step's one read of the loss: together with the gradient norm, which also tells whether it is finite.
        var measured = HostReads.ToArray<float>(stack([loss, norm]));
        var skipped = !float.IsFinite(measured[0]) || !float.IsFinite(measured[1]);
        if (skipped)
        {
            Model.RestoreRouterStates(routerStates);
            SkippedSteps++;
            if (++_skippedInARow >= MaxSkippedInARow)
                throw new InvalidOperationException(
                    $"The loss or gradient norm was not finite in {MaxSkippedInARow} steps in a row, the last at step {Step}; lower the learning rate.");
        }
        else
        {
            _skippedInARow = 0;
            _optimizer.step();
            routed?.Invoke(routing);
            Model.AfterStep(routing);
        }

        var layers = routing.Select((l, k) => new LayerBalance(k, l.Loads, BalanceMeasures.FromLoads(l.Loads), l.Dropped)).ToArray();
        var metrics = new StepMetrics(Step, measured[0], learningRate, measured[1], watch.Elapsed, (int)inputs.numel(), layers)
        {
            Skipped = skipped,
            HostReads = HostReads.Count - readsBefore,
        };
        Step++;
        return metrics;
    }

    /// <summary>Steps skipped so far because their loss or gradient norm was not finite.</summary>
    public int SkippedSteps { get; private set; }

    /// <summary>Skipped steps in a row after which training stops: the run has diverged, not hit a bad batch.</summary>
    public const int MaxSkippedInARow = 10;

    /// <summary>
    /// Forward and backward over the batch in micro-batches, each loss weighted by its share of the sequences, so
    /// the gradients add up to those of the whole batch's mean loss. Each micro-batch's activations go with its
    /// scope; only its routing and its loss (on the device) outlive it.
    /// </summary>
    private (Tensor Loss, IReadOnlyList<LayerRouting> Routing) AccumulateGradients(Tensor inputs, Tensor targets)
    {
        var rows = inputs.shape[0];
        var parts = (int)Math.Min(Training.GradientAccumulation, rows);
        var (inputParts, targetParts) = (inputs.chunk(parts), targets.chunk(parts));
        var routings = new List<IReadOnlyList<LayerRouting>>(parts);
        var losses = new List<Tensor>(parts);
        for (var p = 0; p < inputParts.Length; p++)
        {
            using var micro = NewDisposeScope();
            var share = (double)inputParts[p].shape[0] / rows;
            var (total, languageModel, routing) = Model.Loss(inputParts[p], targetParts[p]);
            using var weight = share.ToScalar(); // held Scalar: see KeptScalars
            (parts == 1 ? total : total.mul(weight)).backward();
            losses.Add(languageModel.detach().mul(weight).MoveToOuterDisposeScope());
            foreach (var layer in routing)
                layer.MoveToOuterDisposeScope();
            routings.Add(routing);
        }
        var loss = losses.Count == 1 ? losses[0] : stack(losses).sum();
        return (loss, routings.Count == 1 ? routings[0] : LayerRouting.Concat(routings));
    }

    /// <summary>
    /// Loss over the first validation batches, and each layer's balance over the whole pass. The routers' state
    /// (q) is put back afterwards: validation never changes training.
    /// </summary>
    public Evaluation Evaluate()
    {
        using var scope = NewDisposeScope();
        Model.eval();
        var saved = Model.RouterStates();
        var loads = Model.MoeLayers.Select(_ => new long[Model.Config.Experts]).ToArray();
        double lossSum = 0;
        var batches = 0;
        using (no_grad())
        {
            foreach (var (inputs, targets) in _validation.InOrder(Training.BatchSize, Training.EvaluationBatches))
            {
                var (_, languageModel, routing) = Model.Loss(inputs.to(Device), targets.to(Device));
                lossSum += HostReads.Item<float>(languageModel);
                batches++;
                for (var k = 0; k < loads.Length; k++)
                {
                    var batchLoads = routing[k].Loads;
                    for (var e = 0; e < batchLoads.Length; e++)
                        loads[k][e] += batchLoads[e];
                }
            }
        }
        Model.RestoreRouterStates(saved);
        var layers = loads.Select((l, k) => new LayerBalance(k, l, BalanceMeasures.FromLoads(l), 0)).ToArray();
        return new Evaluation(Step, lossSum / batches, layers);
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        Model.Dispose();
    }
}
