using System.Diagnostics;
using Moe.Model.Data;
using Moe.Model.Devices;
using Moe.Model.Network;
using Moe.Model.Routing;
using Moe.Model.Training;
using static TorchSharp.torch;

namespace Moe.Benchmarks;

/// <summary>
/// Where a training step goes, per routing method: host reads per step, step time with the one-pass expert combine
/// beside the per-expert reference loop, and the routing's share of the step. Steps of every method and both expert
/// passes alternate in one process, so the machine's noise falls on all of them alike; figures are medians.
/// </summary>
internal static class StepProfileBench
{
    private static readonly RouterKind[] Methods = [RouterKind.TopK, RouterKind.LossFree, RouterKind.Bip, RouterKind.QuantileBalancing];
    private static readonly bool[] OnePassFirst = [true, false];
    private const int StepsPerSample = 3;

    public static void Run(string presetName, string device, int alternations, string dataDirectory)
    {
        var (model, training, data) = Setup(presetName, device, dataDirectory);
        Console.WriteLine($"{presetName} on {TrainingDevice.Resolve(device)}: {model.Describe()}; batch {training.StepBatch} x {model.ContextLength} tokens, T = {model.BalanceIterations}");

        HostReadsPerStep(model, training, data);

        var loops = Methods.SelectMany(method => OnePassFirst.Select(onePass =>
        {
            var loop = new TrainingLoop(model with { Router = method }, training, data);
            foreach (var layer in loop.Model.MoeLayers)
                layer.Pass = onePass ? ExpertPasses.OnePass : ExpertPasses.PerExpertCopies;
            return (Method: method, OnePass: onePass, Loop: loop);
        })).ToList();
        try
        {
            var (steps, maxVio) = Alternate([.. loops.Select(l => l.Loop)], alternations);
            var routing = Methods.Select(method => RoutingSeconds(method, model, loops.First(l => l.Method == method && l.OnePass).Loop, alternations)).ToArray();

            var median = steps.Select(Median).ToArray();
            double Step(RouterKind method, bool onePass) => median[loops.FindIndex(l => l.Method == method && l.OnePass == onePass)];
            foreach (var method in Methods)
            {
                var name = method.ShortName();
                var vio = maxVio[loops.FindIndex(l => l.Method == method && l.OnePass)];
                Console.WriteLine($"method={name} step: {Step(method, true) * 1e3:F1} ms one pass, {Step(method, false) * 1e3:F1} ms per-expert loop, ratio {Step(method, true) / Step(method, false):F3} (target < 1); MaxVio_batch {vio:F3}");
            }
            foreach (var method in Methods)
                Console.WriteLine($"method={method.ShortName()} step / lossfree: {Step(method, true) / Step(RouterKind.LossFree, true):F3} (target for bip and qb <= 1.02)");
            foreach (var method in Methods)
            {
                var share = routing[Array.IndexOf(Methods, method)] / Step(method, true);
                Console.WriteLine($"method={method.ShortName()} routing share of a step: {share * 100:F1} % ({(method is RouterKind.Bip or RouterKind.QuantileBalancing ? "solve and top-K" : "top-K")})");
            }
            Console.WriteLine($"medians of {alternations} alternations of {StepsPerSample} steps each; steps are {training.StepBatch * model.ContextLength} tokens");
        }
        finally
        {
            foreach (var (_, _, loop) in loops)
                loop.Dispose();
        }
    }

    /// <summary>
    /// Step times of BIP and QB at each T, beside Loss-Free's, alternated in one process (the T table of
    /// docs/results.md takes its balance figures from `compare` runs and its times from here).
    /// </summary>
    public static void Iterations(string presetName, string device, int alternations, string dataDirectory, int[] iterations)
    {
        var (model, training, data) = Setup(presetName, device, dataDirectory);
        var runs = new List<(RouterKind Method, int T, TrainingLoop Loop)> { (RouterKind.LossFree, 0, new TrainingLoop(model with { Router = RouterKind.LossFree }, training, data)) };
        foreach (var method in new[] { RouterKind.Bip, RouterKind.QuantileBalancing })
            runs.AddRange(iterations.Select(t => (method, t, new TrainingLoop(model with { Router = method, BalanceIterations = t }, training, data))));
        try
        {
            var (times, maxVio) = Alternate([.. runs.Select(r => r.Loop)], alternations);
            var lossFree = Median(times[0]);
            Console.WriteLine($"{presetName} on {TrainingDevice.Resolve(device)}: lossfree step {lossFree * 1e3:F1} ms, MaxVio_batch {maxVio[0]:F3}");
            for (var k = 1; k < runs.Count; k++)
                Console.WriteLine($"method={runs[k].Method.ShortName()} T={runs[k].T} step: {Median(times[k]) * 1e3:F1} ms, / lossfree {Median(times[k]) / lossFree:F3}, MaxVio_batch {maxVio[k]:F3}");
            Console.WriteLine($"medians of {alternations} alternations of {StepsPerSample} steps each");
        }
        finally
        {
            foreach (var (_, _, loop) in runs)
                loop.Dispose();
        }
    }

    private static (MoeModelConfig Model, TrainingConfig Training, TokenDataset Data) Setup(string presetName, string device, string dataDirectory)
    {
        var preset = ModelPresets.Get(presetName);
        var data = Corpus.Load(null, dataDirectory, preset.Model.VocabSize, _ => { });
        return (preset.Model with { VocabSize = data.VocabSize }, preset.Training with { Device = device, Steps = 1000 }, data);
    }

    /// <summary>
    /// Mean step times of the loops, one sample of StepsPerSample steps per loop per alternation (each alternation
    /// starts one loop further on, so that no loop always follows the same other), and each loop's mean MaxVio_batch
    /// over the timed steps: how evenly its experts' work was split.
    /// </summary>
    private static (List<double>[] Samples, double[] MaxVio) Alternate(IReadOnlyList<TrainingLoop> loops, int alternations)
    {
        foreach (var loop in loops)
        {
            for (var warm = 0; warm < 3; warm++)
                loop.TrainStep();
        }
        var samples = loops.Select(_ => new List<double>()).ToArray();
        var maxVio = new double[loops.Count];
        for (var round = 0; round < alternations; round++)
        {
            for (var i = 0; i < loops.Count; i++)
            {
                var k = (round + i) % loops.Count;
                var steps = Enumerable.Range(0, StepsPerSample).Select(_ => loops[k].TrainStep()).ToArray();
                samples[k].Add(steps.Average(m => m.Duration.TotalSeconds));
                maxVio[k] += steps.Sum(m => m.MeanMaxVio) / (StepsPerSample * alternations);
            }
            Console.Error.WriteLine($"alternation {round + 1} of {alternations} done");
        }
        return (samples, maxVio);
    }

    /// <summary>Host reads of a step on the tensor path (the C# CPU kernel off): what a GPU would see.</summary>
    private static void HostReadsPerStep(MoeModelConfig model, TrainingConfig training, TokenDataset data)
    {
        foreach (var method in Methods)
        {
            using var loop = new TrainingLoop(model with { Router = method, CpuFastPath = false }, training, data);
            var summarise = method is RouterKind.Bip or RouterKind.QuantileBalancing;
            var reads = Enumerable.Range(0, 3).Select(_ => loop.TrainStep(summarise
                ? routed => Moe.Model.Training.Rounds.LayerSummary.Of(routed,
                    [.. routed.Select(l => Moe.Model.Balancing.ReadoutWindow.Fixed(Moe.Model.Balancing.HistogramRange.Default, (int)l.Scores.shape[1]))], method == RouterKind.Bip)
                : null).HostReads).Max();
            Console.WriteLine($"method={method.ShortName()} host reads per step: {reads}");
        }
    }

    /// <summary>
    /// The median time of one step's routing in all layers, routed again from the state the step started from, on
    /// the scores of one more step of <paramref name="loop"/>.
    /// </summary>
    private static double RoutingSeconds(RouterKind method, MoeModelConfig model, TrainingLoop loop, int repeats)
    {
        using var scope = NewDisposeScope();
        var before = loop.Model.RouterStates();
        Tensor[] scores = [];
        loop.TrainStep(routed => scores = [.. routed.Select(r => r.Scores.detach().clone().DetachFromDisposeScope())]);
        var times = new List<double>();
        for (var r = 0; r < repeats; r++)
        {
            using var inner = NewDisposeScope();
            var routers = scores.Select((_, k) =>
            {
                var router = Routers.Create(method, model.RouterConfig);
                if (before[k] is { } state)
                    router.LoadState(state);
                return router;
            }).ToArray();
            Synchronize(scores[0]);
            var watch = Stopwatch.StartNew();
            for (var k = 0; k < scores.Length; k++)
                routers[k].Route(scores[k], checkFinite: false);
            Synchronize(scores[0]);
            times.Add(watch.Elapsed.TotalSeconds);
        }
        foreach (var layerScores in scores)
            layerScores.Dispose();
        return Median(times);
    }

    private static void Synchronize(Tensor on)
    {
        if (on.device_type == TorchSharp.DeviceType.CUDA)
            cuda.synchronize(on.device);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
