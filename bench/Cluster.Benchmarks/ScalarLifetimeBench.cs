using System.Diagnostics;
using System.Runtime.InteropServices;
using Moe.Model.Devices;
using static TorchSharp.torch;

namespace Moe.Benchmarks;

/// <summary>
/// Why the build bans TorchSharp's <c>a + b</c> (see <see cref="KeptScalars"/>): the same small sums, the way
/// TorchSharp makes them and with a Scalar that lives, side by side in one run, each while one thread forces
/// garbage collections and three threads keep the cores busy so that the summing thread is preempted mid-call.
/// </summary>
internal static class ScalarLifetimeBench
{
    public static void Run(TimeSpan each)
    {
        Console.WriteLine($"Sums of two 64-float tensors for {each.TotalSeconds:F0} s each, {Environment.ProcessorCount} cores, a GC every ~1 ms:");
#pragma warning disable RS0030 // the call the build bans, measured on purpose
        Report("a + b (TorchSharp's Scalar 1)", Count((a, b) => a + b, each));
#pragma warning restore RS0030
        Report("a.Plus(b) (a Scalar that lives)", Count(KeptScalars.Plus, each));
    }

    private static void Report(string name, (long Sums, long Failed, string? First) r) =>
        Console.WriteLine($"  {name,-34} {r.Sums,10:N0} sums, {r.Failed,5} failed ({r.Failed * 1e6 / r.Sums:F1} per million){(r.First is null ? "" : $"; first: {r.First}")}");

    private static (long Sums, long Failed, string? First) Count(Func<Tensor, Tensor, Tensor> sum, TimeSpan each)
    {
        using var a = rand(64);
        using var b = rand(64);
        var expected = a.sum().item<float>() + b.sum().item<float>();
        var stop = false;
        var threads = new List<Thread> { new(() => { while (!Volatile.Read(ref stop)) { GC.Collect(0); Thread.Sleep(1); } }) };
        threads.AddRange(Enumerable.Range(0, 3).Select(_ => new Thread(() => { while (!Volatile.Read(ref stop)) Thread.SpinWait(1000); })));
        threads.ForEach(t => t.Start());
        long sums = 0, failed = 0;
        string? first = null;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < each)
        {
            try
            {
                using var c = sum(a, b);
                using var total = c.sum();
                if (Math.Abs(total.item<float>() - expected) > 1e-3)
                    failed++;
            }
            catch (ExternalException e)
            {
                first ??= e.Message.Split('\n')[0];
                failed++;
            }
            sums++;
        }
        Volatile.Write(ref stop, true);
        threads.ForEach(t => t.Join());
        return (sums, failed, first);
    }
}
