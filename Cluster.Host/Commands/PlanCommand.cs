using System.CommandLine;
using System.Globalization;
using Moe.Actors.Hosting;
using Moe.Actors.Training;
using Moe.Cluster.Host.Configuration;
using Moe.Model.Data;
using Moe.Model.Training;

namespace Moe.Cluster.Host.Commands;

/// <summary>
/// `plan`: a job's memory plan on this machine's devices, without starting anything, and with --measure the peak
/// memory of one CPU trainer's first steps next to the plan.
/// </summary>
public static class PlanCommand
{
    public static Command Create()
    {
        var config = CommonOptions.Config();
        var job = new JobOptions("Job id (for the settings of a job in a settings file).");
        var device = CommonOptions.Device();
        var trainers = CommonOptions.Trainers();
        var helm = new Option<int?>("--helm")
        {
            Description = "Print the chart's memory and volume sizes for this job with this many trainers in all (as --set values).",
        };
        var measure = new Option<bool>("--measure") { Description = "Train two steps of one trainer on the CPU, on random tokens, and print its peak memory next to the plan." };

        var command = new Command("plan", "Print a job's memory plan and whether it fits this machine's devices.") { config, device, trainers, helm, measure };
        job.AddTo(command);
        command.SetAction(async (result, cancellation) =>
        {
            var (output, error) = (result.InvocationConfiguration.Output, result.InvocationConfiguration.Error);
            JobSpec spec;
            NodeSettings node;
            try
            {
                var flags = job.Set(new Flags(), result).Set("Trainer:Count", result.GetValue(trainers)).Set("Trainer:Device", result.GetValue(device));
                var configuration = HostConfiguration.Build(result.GetValue(config), flags.Values);
                node = HostConfiguration.Node(configuration, new TrainerSettings { Count = 0 }) with { Roles = NodeRoles.All };
                spec = HostConfiguration.Job(configuration, new JobSpec { JobId = "plan" }).Spec.Resolve();
            }
            catch (ArgumentException e)
            {
                await error.WriteLineAsync($"error: {Cli.Describe(e)}");
                return ExitCodes.BadInput;
            }
            var plan = MemoryPlan.For(spec.Model, spec.Training);
            var (lines, problem) = Fit(spec, node);
            await output.WriteLineAsync($"Model: {spec.Model.Describe()}");
            await output.WriteLineAsync($"Micro-batch {spec.Training.BatchSize} x {spec.Model.ContextLength} tokens, {spec.Training.GradientAccumulation} per step");
            await output.WriteLineAsync(plan.Describe());
            foreach (var line in lines)
                await output.WriteLineAsync(line);
            if (result.GetValue(helm) is { } total)
            {
                var perPod = node.Trainer.Count > 0 ? node.Trainer.Count : 1;
                var sizing = new ChartSizing(perPod, Gpu: node.Trainer.Device.StartsWith("cuda", StringComparison.OrdinalIgnoreCase), total, node.Blobs.KeepRounds);
                await output.WriteLineAsync("Helm values: --set " + string.Join(",", sizing.Values(plan).Select(v => $"{v.Key}={v.Value}")));
            }
            if (result.GetValue(measure))
                await output.WriteLineAsync(Measure(spec, plan));
            if (problem is null)
                return ExitCodes.Success;
            await error.WriteLineAsync($"error: {problem}");
            return ExitCodes.BadInput;
        });
        return command;
    }

    /// <summary>The plan of <paramref name="spec"/> against the devices of this node's trainers (and its coordinator).</summary>
    public static (IReadOnlyList<string> Lines, string? Problem) Fit(JobSpec spec, NodeSettings node) =>
        MemoryFit.Check(MemoryPlan.For(spec.Model, spec.Training), node.Has(NodeRoles.Trainer) ? DevicePolicy.Trainers(node.Trainer, DevicePolicy.Gpus, Environment.ProcessorCount) : [],
            node.Has(NodeRoles.Coordinator), d => DeviceMemory.Of(d, node.Trainer.DeviceMemory));

    // What the plan's step part (parameters, gradients, AdamW, activations) predicts is what two steps take: the
    // round copies live in the cluster's trainer, not in a bare training loop.
    private static string Measure(JobSpec spec, MemoryPlan plan)
    {
        if (!PeakMemory.Available)
            return "measured: not on this system (needs /proc/self/status and /proc/self/clear_refs)";
        var training = spec.Training with { Device = "cpu", EvaluationInterval = 0 };
        var data = TokenDataset.Random(spec.Model.VocabSize, (spec.Model.ContextLength + 1) * training.StepBatch * 4, seed: 1);
        GC.Collect();
        var before = PeakMemory.ResidentBytes;
        PeakMemory.Reset();
        StepMetrics second;
        using (var loop = new TrainingLoop(spec.Model, training, data))
        {
            loop.TrainStep();
            second = loop.TrainStep(); // the first also pays for libtorch's warm-up
        }
        var measured = PeakMemory.PeakBytes - before;
        var predicted = plan.TrainerBytes - plan.RoundCopyBytes;
        return string.Create(CultureInfo.InvariantCulture,
            $"measured: peak resident memory {MemoryPlan.Gib(measured)} over the {MemoryPlan.Gib(before)} before the model; planned {MemoryPlan.Gib(predicted)} (ratio {(double)measured / predicted:F3}); " +
            $"second step {second.Duration.TotalSeconds:F2} s, {second.TokensPerSecond:N0} tokens/s on {Environment.ProcessorCount} cores");
    }
}
