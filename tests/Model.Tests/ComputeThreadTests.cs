using Moe.Model.Training;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

public class ComputeThreadTests
{
    [Fact]
    public async Task All_work_runs_in_order_on_one_thread_with_its_own_libtorch_thread_count()
    {
        var original = get_num_threads(); // the thread sets the process default too: put it back for other tests
        try
        {
            await RunsInOrderOnOneThread();
        }
        finally
        {
            set_num_threads(original);
        }
    }

    private static async Task RunsInOrderOnOneThread()
    {
        using var compute = new ComputeThread("test compute", intraOpThreads: 1);
        var order = new List<int>();
        var threads = await Task.WhenAll(Enumerable.Range(0, 20).Select(k => compute.Run(() =>
        {
            order.Add(k);
            return Environment.CurrentManagedThreadId;
        })));

        Assert.Single(threads.Distinct());
        Assert.NotEqual(Environment.CurrentManagedThreadId, threads[0]);
        Assert.Equal(Enumerable.Range(0, 20), order);
        Assert.Equal(1, await compute.Run(() => get_num_threads()));
    }

    [Fact]
    public async Task A_failure_faults_its_own_task_and_the_thread_goes_on()
    {
        using var compute = new ComputeThread("test compute", intraOpThreads: get_num_threads());

        var failed = compute.Run(() => throw new InvalidDataException("bad parameters file"));
        var next = compute.Run(() => 42);

        Assert.Equal("bad parameters file", (await Assert.ThrowsAsync<InvalidDataException>(() => failed)).Message);
        Assert.Equal(42, await next);
    }

    [Fact]
    public void A_thread_count_below_one_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ComputeThread("bad", intraOpThreads: 0));
    }
}
