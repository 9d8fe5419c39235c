using Moe.Model.Balancing;
using Moe.Model.Devices;
using Moe.Model.Routing;
using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

public class DualBalancingTests
{
    [Theory]
    [InlineData(100, 8, 2, 0.0, true)]
    [InlineData(1000, 16, 2, 3.0, true)]
    [InlineData(4099, 16, 2, 3.0, true)] // windowed selection, token count not a multiple of the SIMD width
    [InlineData(4099, 16, 2, 3.0, false)]
    [InlineData(3000, 64, 8, 5.0, true)]
    [InlineData(3000, 64, 8, 5.0, false)]
    [InlineData(2500, 10, 7, 2.0, true)] // K+1 > m-K: the running set keeps the smallest values
    [InlineData(37, 5, 5, 1.0, true)] // K = m: everything is taken, prices are 0
    public void Cpu_kernel_matches_the_tensor_solve_exactly(int n, int m, int k, double skew, bool clip)
    {
        using var scope = NewDisposeScope();
        var scores = TestScores.Make(n, m, seed: n + m, skew);
        var q0 = rand(m).Times(0.05f);

        var expected = TestScores.ToArray(DualBalancing.Solve(scores, q0, k, iterations: 3, clip));
        var actual = TestScores.ToArray(q0);
        DualBalancingCpu.Solve(TestScores.ToArray(scores), n, m, actual, k, iterations: 3, clip);

        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Cpu_kernel_matches_the_tensor_solve_exactly_when_only_one_of_the_prices_is_clipped(bool clipTokenPrices, bool clipExpertPrices)
    {
        using var scope = NewDisposeScope();
        var scores = TestScores.Make(3000, 16, seed: 5, skew: 4, ScoreFunction.Sigmoid);
        using var tenth = 0.1f.ToScalar();
        var q0 = rand(16).Times(0.2f).sub(tenth);

        var expected = TestScores.ToArray(DualBalancing.Solve(scores, q0, 2, iterations: 3, clipTokenPrices, clipExpertPrices));
        var actual = TestScores.ToArray(q0);
        DualBalancingCpu.SolveValidated(TestScores.ToArray(scores), 3000, 16, actual, 2, iterations: 3, clipTokenPrices, clipExpertPrices);

        Assert.Equal(expected, actual);
        Assert.Equal(clipExpertPrices, actual.All(v => v >= 0));
    }

    [Theory]
    [InlineData(300, 16, 2, true)]
    [InlineData(2048, 64, 8, true)]
    [InlineData(2048, 64, 8, false)]
    [InlineData(500, 4, 3, false)] // capacity above half the tokens: the selection takes the smaller side
    public void Top_k_selections_give_the_k_th_value_selections_prices(int n, int m, int k, bool clip)
    {
        using var scope = NewDisposeScope();
        var scores = TestScores.Make(n, m, seed: n + k, skew: 2);
        var q = rand(m).Times(0.05f);
        using var zero = 0.ToScalar();
        var capacity = DualBalancing.Capacity(n, m, k);

        // The selections by kthvalue that the top-k ones replace.
        var p = (scores - q.unsqueeze(0)).kthvalue(m - k, dim: 1).values;
        p = clip ? p.clamp_min(zero) : p;
        var expertPrices = (scores - p.unsqueeze(1)).kthvalue(n - capacity, dim: 0).values;
        expertPrices = clip ? expertPrices.clamp_min(zero) : expertPrices;

        Assert.Equal(TestScores.ToArray(p), TestScores.ToArray(DualBalancing.TokenPrices(scores, q, k, clip)));
        Assert.Equal(TestScores.ToArray(expertPrices), TestScores.ToArray(DualBalancing.ExpertPrices(scores, p, capacity, clip)));
    }

    [Fact]
    public void Bip_prices_are_non_negative_and_quantile_balancing_prices_may_be_negative()
    {
        using var scope = NewDisposeScope();
        var scores = TestScores.Make(2000, 16, seed: 3, skew: 6, ScoreFunction.Sigmoid);
        var q = zeros(16);

        var bip = TestScores.ToArray(DualBalancing.Solve(scores, q, 2, 4, clip: true));
        var qb = TestScores.ToArray(DualBalancing.Solve(scores, q, 2, 4, clip: false));

        Assert.All(bip, v => Assert.True(v >= 0));
        Assert.Contains(qb, v => v < 0);
    }

    [Fact]
    public void Invalid_arguments_are_named()
    {
        using var scope = NewDisposeScope();
        var scores = TestScores.Make(10, 4, seed: 1);
        var q = zeros(4);

        Assert.Contains("top-K", Assert.Throws<ArgumentException>(() => DualBalancing.Solve(scores, q, 0, 1, true)).Message);
        Assert.Contains("top-K", Assert.Throws<ArgumentException>(() => DualBalancing.Solve(scores, q, 5, 1, true)).Message);
        Assert.Contains("Iterations", Assert.Throws<ArgumentException>(() => DualBalancing.Solve(scores, q, 2, 0, true)).Message);
        Assert.Contains("one entry per expert", Assert.Throws<ArgumentException>(() => DualBalancing.Solve(scores, zeros(3), 2, 1, true)).Message);

        var values = TestScores.ToArray(scores);
        var host = new float[4];
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => DualBalancingCpu.Solve([], 0, 4, host, 2, 1, true)).Message);
        Assert.Contains("one entry per expert", Assert.Throws<ArgumentException>(() => DualBalancingCpu.Solve(values, 10, 4, new float[3], 2, 1, true)).Message);
        values[7] = float.NaN;
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => DualBalancingCpu.Solve(values, 10, 4, host, 2, 1, true)).Message);
    }

    [Fact]
    public void Selection_finds_the_kth_largest()
    {
        var random = new Random(5);
        for (var trial = 0; trial < 200; trial++)
        {
            var values = Enumerable.Range(0, random.Next(1, 300)).Select(_ => (float)random.Next(-50, 50)).ToArray();
            var k = random.Next(1, values.Length + 1);
            var expected = values.OrderDescending().ElementAt(k - 1);
            Assert.Equal(expected, Selection.KthLargest(values.ToArray(), k));
        }
    }
}
