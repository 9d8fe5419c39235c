using System.Diagnostics;
using Moe.Model.Data;
using Moe.Model.Network;
using Moe.Model.Training;
using static TorchSharp.torch;

namespace Moe.Benchmarks;

/// <summary>
/// Whole-training measurements that BenchmarkDotNet's repeated invocations do not fit: memory over a long run,
/// and throughput against the machine's plain matrix-product speed, both measured in this one process.
/// </summary>
internal static class TrainingBench
{
    /// <summary>RSS after 100 and after 1,000 steps of the tiny preset: flat memory means dispose scopes work.</summary>
    public static void Memory(string dataDirectory)
    {
        var preset = ModelPresets.Get("tiny");
        var data = Corpus.Load(null, dataDirectory, preset.Model.VocabSize, Console.WriteLine);
        using var loop = new TrainingLoop(preset.Model with { VocabSize = data.VocabSize }, preset.Training with { Steps = 1000 }, data);
        long at100 = 0;
        for (var step = 1; step <= 1000; step++)
        {
            loop.TrainStep();
            if (step is 100 or 1000)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                var rss = Process.GetCurrentProcess().WorkingSet64;
                Console.WriteLine($"RSS after {step,4} steps of tiny: {rss / 1048576.0:F1} MiB");
                if (step == 100)
                    at100 = rss;
                else
                    Console.WriteLine($"ratio 1000/100: {(double)rss / at100:F3} (target <= 1.10)");
            }
        }
    }

    /// <summary>Tokens/s and achieved FLOP/s of training steps, as a share of a plain float32 matrix product.</summary>
    public static void Throughput(string presetName, string dataDirectory, int steps)
    {
        var preset = ModelPresets.Get(presetName);
        var data = Corpus.Load(null, dataDirectory, preset.Model.VocabSize, Console.WriteLine);
        var model = preset.Model with { VocabSize = data.VocabSize };
        using var loop = new TrainingLoop(model, preset.Training with { Steps = Math.Max(steps, preset.Training.Steps) }, data);
        for (var warm = 0; warm < 3; warm++)
            loop.TrainStep();
        var watch = Stopwatch.StartNew();
        long tokens = 0;
        for (var step = 0; step < steps; step++)
            tokens += loop.TrainStep().Tokens;
        var seconds = watch.Elapsed.TotalSeconds;
        var modelFlops = ModelFlops.TrainingPerToken(model) * tokens / seconds;

        var matmulFlops = MatmulFlops();
        Console.WriteLine($"{presetName}: {tokens / seconds:F0} tokens/s, model {modelFlops / 1e9:F2} GFLOP/s");
        Console.WriteLine($"plain float32 matmul (1024 x 1024 x 1024): {matmulFlops / 1e9:F2} GFLOP/s");
        Console.WriteLine($"achieved / matmul: {modelFlops / matmulFlops:F3}");
    }

    private static double MatmulFlops()
    {
        using var scope = NewDisposeScope();
        var a = randn(1024, 1024);
        var b = randn(1024, 1024);
        for (var warm = 0; warm < 3; warm++)
            a.mm(b).Dispose();
        var watch = Stopwatch.StartNew();
        const int repeats = 20;
        for (var r = 0; r < repeats; r++)
            a.mm(b).Dispose();
        return repeats * 2.0 * 1024 * 1024 * 1024 / watch.Elapsed.TotalSeconds;
    }
}
