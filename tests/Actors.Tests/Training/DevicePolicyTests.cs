using Moe.Actors.Training;

namespace Moe.Actors.Tests.Training;

public sealed class DevicePolicyTests
{
    [Theory]
    [InlineData(0, "auto", 0, 2, "auto,auto", 1)] // no GPU: one trainer per core, one thread each
    [InlineData(0, "auto", 4, 8, "cuda:0,cuda:1,cuda:2,cuda:3", 2)] // one per GPU, the cores shared out
    [InlineData(2, "cuda", 4, 8, "cuda:0,cuda:1", 4)]
    [InlineData(0, "cuda", 4, 8, "cuda:0,cuda:1,cuda:2,cuda:3", 2)] // a 4-GPU pod: four trainers
    [InlineData(2, "cuda:3", 4, 8, "cuda:3,cuda:3", 4)] // a named device is kept, and may be shared
    [InlineData(1, "cpu", 4, 8, "cpu", 8)]
    [InlineData(1, "auto", 1, 8, "cuda:0", 8)]
    public void Trainers_are_placed_one_per_device_with_the_cores_shared_out(int count, string device, int gpus, int cores, string devices, int threads)
    {
        var trainers = DevicePolicy.Trainers(new TrainerSettings { Count = count, Device = device }, gpus, cores);

        Assert.Equal(devices, string.Join(",", trainers.Select(t => t.Device)));
        Assert.All(trainers, t => Assert.Equal(threads, t.IntraOpThreads));
    }

    [Theory]
    [InlineData(6, "auto", 4)]
    [InlineData(2, "cuda", 1)]
    public void More_trainers_than_gpus_are_refused_with_what_to_do(int count, string device, int gpus)
    {
        var error = Assert.Throws<ArgumentException>(() => DevicePolicy.Trainers(new TrainerSettings { Count = count, Device = device }, gpus, cores: 8));

        Assert.Contains($"Trainer:Count = {count} is more than the {gpus} GPU", error.Message, StringComparison.Ordinal);
        Assert.Contains("cuda:K", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Configured_libtorch_threads_win_over_the_share_of_the_cores()
    {
        var trainers = DevicePolicy.Trainers(new TrainerSettings { Count = 2, IntraOpThreads = 3 }, gpus: 0, cores: 16);

        Assert.All(trainers, t => Assert.Equal(3, t.IntraOpThreads));
    }

    [Theory]
    [InlineData("cpu", 4, 0)]
    [InlineData("auto", 0, 0)]
    [InlineData("auto", 1, 1)]
    [InlineData("cuda:1", 2, 1)]
    public void Rounds_overlap_by_default_only_on_gpu_trainers(string device, int gpus, int overlap) =>
        Assert.Equal(overlap, DevicePolicy.DefaultOverlapSteps(device, gpus));
}
