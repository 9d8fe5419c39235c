using System.Diagnostics;
using Moe.Model.Devices;
using static TorchSharp.torch;

namespace Moe.Benchmarks;

/// <summary>
/// Why every owner of libtorch work has one <see cref="Moe.Model.Training.ComputeThread"/>: the same small kernels
/// on one thread, timed alone, while three other threads that once ran a kernel (each keeping an OpenMP team) are
/// alive and idle, and after they ended, side by side in one run.
/// </summary>
internal static class OpenMpTeamsBench
{
    public static void Run()
    {
        using var a = randn(256, 256);
        using var b = randn(256, 256);
        double Time()
        {
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < 3000; i++)
            {
                using var product = a.matmul(b);
                using var sum = product.Plus(a);
            }
            return watch.Elapsed.TotalMilliseconds;
        }

        Time(); // warm-up
        var alone = Math.Min(Time(), Time());
        using var release = new ManualResetEventSlim();
        var others = Enumerable.Range(0, 3).Select(_ =>
        {
            using var ready = new ManualResetEventSlim();
            var thread = new Thread(() =>
            {
                using (a.matmul(b))
                    ready.Set();
                release.Wait();
            });
            thread.Start();
            ready.Wait();
            return thread;
        }).ToList();
        var beside = Math.Min(Time(), Time());
        release.Set();
        others.ForEach(t => t.Join());
        var after = Math.Min(Time(), Time());

        Console.WriteLine($"3,000 x (256^2 matmul + add) on one thread, {Environment.ProcessorCount} cores, best of 2:");
        Console.WriteLine($"  alone:                                   {alone,7:F0} ms (1.00)");
        Console.WriteLine($"  three idle threads with OpenMP teams:    {beside,7:F0} ms ({beside / alone:F2})");
        Console.WriteLine($"  after those threads ended:               {after,7:F0} ms ({after / alone:F2})");
    }
}
