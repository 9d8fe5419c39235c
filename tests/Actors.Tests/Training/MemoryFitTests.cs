using Moe.Actors.Training;
using Moe.Model.Network;
using Moe.Model.Training;

namespace Moe.Actors.Tests.Training;

public sealed class MemoryFitTests
{
    private static readonly MemoryPlan Plan = MemoryPlan.For(ModelPresets.Get("small-16e").Model, ModelPresets.Get("small-16e").Training);

    [Fact]
    public void The_plan_counts_four_bytes_a_parameter_for_the_weights_their_gradients_and_two_for_adamw()
    {
        var model = ModelPresets.Get("small-16e").Model;

        Assert.Equal(4 * model.ParameterCount, Plan.ParameterBytes);
        Assert.Equal(Plan.ParameterBytes, Plan.GradientBytes);
        Assert.Equal(2 * Plan.ParameterBytes, Plan.OptimizerBytes);
        Assert.True(Plan.ActiveParametersPerToken < Plan.Parameters); // 2 of 16 experts per token
        var doubled = MemoryPlan.For(model, ModelPresets.Get("small-16e").Training with { BatchSize = 32 });
        Assert.Equal(2 * Plan.ActivationBytes, doubled.ActivationBytes, tolerance: 8); // activations follow the micro-batch
        Assert.Equal(Plan.ActivationBytes, MemoryPlan.For(model, ModelPresets.Get("small-16e").Training with { GradientAccumulation = 8 }).ActivationBytes);
    }

    [Fact]
    public void Each_gpu_holds_its_own_trainers_and_the_coordinator_lives_in_host_memory()
    {
        var trainers = DevicePolicy.Trainers(new TrainerSettings { Count = 0, Device = "cuda" }, gpus: 4, cores: 8);
        var asked = new List<string>();

        var (lines, problem) = MemoryFit.Check(Plan, trainers, coordinator: true, device =>
        {
            asked.Add(device);
            return (device == "cpu" ? 64L << 30 : Plan.TrainerBytes, "test");
        });

        Assert.Null(problem); // exactly one trainer's plan on each GPU fits
        Assert.Equal(["cuda:0", "cuda:1", "cuda:2", "cuda:3", "cpu"], asked);
        Assert.Equal(5, lines.Count);
        Assert.Contains("cpu: the coordinator's", lines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void Cpu_trainers_share_the_host_and_too_many_are_refused_with_the_numbers()
    {
        var trainers = DevicePolicy.Trainers(new TrainerSettings { Count = 4, Device = "cpu" }, gpus: 0, cores: 8);
        var host = (3 * Plan.TrainerBytes) + Plan.CoordinatorBytes;

        var (_, problem) = MemoryFit.Check(Plan, trainers, coordinator: true, _ => (host, "test"));

        Assert.NotNull(problem);
        Assert.StartsWith($"the job does not fit cpu: 4 trainers x {MemoryPlan.Gib(Plan.TrainerBytes)}", problem, StringComparison.Ordinal);
        Assert.Contains("use fewer trainers", problem, StringComparison.Ordinal);
        Assert.Null(MemoryFit.Check(Plan, [.. trainers.Take(3)], coordinator: true, _ => (host, "test")).Problem);
    }

    [Fact]
    public void A_gpu_whose_memory_is_unknown_is_reported_not_refused()
    {
        var (lines, problem) = MemoryFit.Check(Plan, [("cuda:0", 1)], coordinator: false, _ => (null, "unknown: no NVML and no Trainer:DeviceMemory"));

        Assert.Null(problem);
        Assert.Contains("Trainer:DeviceMemory", Assert.Single(lines), StringComparison.Ordinal);
    }
}
