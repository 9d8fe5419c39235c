using Moe.Model.Balancing;
using Moe.Model.Routing;
using Moe.Testing;

namespace Moe.Model.Tests;

public class ReadoutWindowTests
{
    [Theory]
    [InlineData(ScoreFunction.Softmax, true)]
    [InlineData(ScoreFunction.Sigmoid, false)]
    public void At_64_experts_the_window_reads_the_exact_quantile_and_its_q_balances_as_the_exact_one(ScoreFunction score, bool clip) =>
        AfterSettling(new ReadoutCase(64, 8, score, clip, TokensPerTrainer: 2048));

    [Theory]
    [Trait("Category", "Integration")] // steps of 32,768 x 256 scores: too slow for the fast loop
    [InlineData(ScoreFunction.Softmax, true)]
    [InlineData(ScoreFunction.Sigmoid, false)]
    public void At_256_experts_the_window_reads_the_exact_quantile_and_its_q_balances_as_the_exact_one(ScoreFunction score, bool clip) =>
        AfterSettling(new ReadoutCase(256, 8, score, clip));

    [Fact]
    public void A_window_recentres_on_the_quantile_narrows_towards_its_target_and_widens_when_it_lost_the_quantile()
    {
        var window = new ReadoutWindow(0, [-1f, -1f], [1f, 1f], 100);
        var merged = new ExpertHistogram(window);
        // 1,000 tokens: expert 0's values all inside the window (far more than capacity / 2), expert 1's all above it.
        var indices = new[] { 50, 199 };
        merged.AddValidated(new SparseCounts(indices, [1000, 1000]), 1000);
        var readout = merged.ReadOut(topK: 1); // capacity 500

        var next = window.Next(7, merged, readout, capacity: 500);

        Assert.Equal(7, next.Step);
        Assert.Equal([false, true], readout.InEdge);
        Assert.Equal(readout.Values[0], (next.Low[0] + next.High[0]) / 2, 1e-6f);
        Assert.Equal(0.25f, next.HalfWidth(0), 1e-6f); // 1,000 inside against a target of 250: a quarter as wide
        Assert.Equal(4f, next.HalfWidth(1), 1e-6f); // lost: four times wider
    }

    // As the quantile-precision benchmark: a job's window lag of 4 steps, 12 steps for the windows to settle.
    private static void AfterSettling(ReadoutCase c)
    {
        var simulation = new ReadoutSimulation(c);
        for (var k = 0; k < 12; k++)
            simulation.Step();
        var step = simulation.Step();

        Assert.True(step.Window.Step >= 0, "the step was binned with the fixed range, not a window");
        // A quantile that drifts faster than its window expected can leave it (the window then widens): rarely.
        Assert.True(step.Windowed.EdgeShare <= 1.0 / 64, $"{step.Windowed.EdgeShare:P1} of the experts lost their quantile");
        for (var j = 0; j < c.Experts; j++)
        {
            if (step.Windowed.InEdge[j])
                continue;
            var tolerance = Math.Max(1e-5, step.Window.Width(j));
            Assert.True(Math.Abs(step.Windowed.Values[j] - step.Exact[j]) <= tolerance,
                $"expert {j}: window {step.Windowed.Values[j]}, exact {step.Exact[j]}, tolerance {tolerance}");
        }
        Assert.True(step.WindowMaxVio <= (step.ExactMaxVio * 1.1) + 0.005,
            $"MaxVio of the window's q {step.WindowMaxVio:F4} against the exact quantile's {step.ExactMaxVio:F4}");
    }
}
