using System.Diagnostics;
using Moe.Actors.Balancing;
using Moe.Actors.Serialization;
using Moe.Model.Balancing;
using Moe.Model.Routing;
using Moe.Testing;

namespace Moe.Benchmarks;

/// <summary>
/// How exact the balancers' read-out is: for each layer shape and score function, the MaxVio_batch of the global q
/// alone (no re-solve) read with the fixed range, the read-out window and the exact quantile, side by side on the same
/// simulated steps (<see cref="ReadoutSimulation"/>), and how far the window's quantile lies from the exact one.
/// </summary>
internal static class QuantilePrecisionBench
{
    private static readonly ReadoutCase[] Cases =
    [
        new(16, 2, ScoreFunction.Softmax, Clip: true),
        new(16, 2, ScoreFunction.Sigmoid, Clip: false),
        new(64, 8, ScoreFunction.Softmax, Clip: true),
        new(64, 8, ScoreFunction.Sigmoid, Clip: false),
        new(256, 8, ScoreFunction.Softmax, Clip: true),
        new(256, 8, ScoreFunction.Sigmoid, Clip: false),
    ];

    public static void Run(int warmUpSteps, int steps)
    {
        Console.WriteLine($"Read-out precision: 4 trainers x 8,192 tokens per step, T = 16, logits N(0, 1) - 2 j / m; softmax with BIP (q >= 0), " +
                          $"sigmoid with QB; window lag 4 steps; {warmUpSteps} steps to settle, then the mean of {steps} steps.");
        foreach (var c in Cases)
        {
            var clock = Stopwatch.StartNew();
            var simulation = new ReadoutSimulation(c);
            for (var k = 0; k < warmUpSteps; k++)
                simulation.Step();
            var measured = Enumerable.Range(0, steps).Select(_ => simulation.Step()).ToList();
            Console.WriteLine($"{c} readout=fixed maxvio={measured.Average(r => r.FixedMaxVio):F3}");
            Console.WriteLine($"{c} readout=window maxvio={measured.Average(r => r.WindowMaxVio):F3}");
            Console.WriteLine($"{c} readout=exact maxvio={measured.Average(r => r.ExactMaxVio):F3}");
            var errors = measured.SelectMany(r => r.Exact.Select((e, j) => (Error: Math.Abs(r.Windowed.Values[j] - e), Bin: r.Window.Width(j)))).ToList();
            Console.WriteLine($"  next step's tokens: window q {measured.Average(r => r.NextMaxVio):F3}, exact q {measured.Average(r => r.NextExactMaxVio):F3}; " +
                              $"|window - exact| mean {errors.Average(e => e.Error):E1}, max {errors.Max(e => e.Error):E1}, " +
                              $"within max(1e-5, one bin) {errors.Count(e => e.Error <= Math.Max(1e-5, e.Bin)) * 100.0 / errors.Count:F1} %; " +
                              $"fixed |q - exact| max {measured.Max(r => r.Exact.Select((e, j) => Math.Abs(r.FixedRange.Values[j] - e)).Max()):E1}; " +
                              $"experts out of their window {measured.Average(r => r.Windowed.EdgeShare) * 100:F2} %; " +
                              $"summary {WireBytes(c, measured[^1].Window):N0} bytes (fixed range {WireBytes(c, ReadoutWindow.Fixed(HistogramRange.Default, c.Experts)):N0}); " +
                              $"{clock.Elapsed.TotalSeconds:F0} s");
        }
    }

    // One trainer's summary of a fresh batch, binned with the window, as the codec writes it.
    private static int WireBytes(ReadoutCase c, ReadoutWindow window)
    {
        var histogram = new ReadoutSimulation(c with { Trainers = 1, Seed = c.Seed + 1 }).Histogram(window);
        var summary = new StepSummary("job", 0, "trainer", 1, 4, c.TokensPerTrainer, new long[c.Experts], histogram.ToSparse())
        { Window = window.Step >= 0 ? window : null };
        return MoeCodecs.Registry.Write(summary).Length;
    }
}
