using Moe.Model.Balancing;
using Moe.Model.Devices;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

public class ExpertHistogramTests
{
    [Theory]
    [InlineData(1000, 8, 2, true)]
    [InlineData(4096, 16, 2, false)]
    [InlineData(3000, 64, 8, true)]
    public void Global_prices_from_the_summary_are_within_one_bin_of_the_exact_quantile(int n, int m, int k, bool clip)
    {
        using var scope = NewDisposeScope();
        var scores = TestScores.Make(n, m, seed: n, skew: 4);
        var q = DualBalancing.Solve(scores, zeros(m), k, 2, clip);
        var p = DualBalancing.TokenPrices(scores, q, k, clip);
        var range = HistogramRange.Default;

        var exact = TestScores.ToArray(DualBalancing.ExpertPrices(scores, p, DualBalancing.Capacity(n, m, k), clip));
        var fromSummary = ExpertHistogram.Build(scores, p, range).ExpertPrices(k, clip);

        for (var j = 0; j < m; j++)
            Assert.True(Math.Abs(exact[j] - fromSummary[j]) <= range.Width, $"expert {j}: exact {exact[j]} vs summary {fromSummary[j]}");
    }

    [Fact]
    public void A_quantile_that_falls_into_an_edge_cell_is_flagged_and_counted_in_the_edge_share()
    {
        using var scope = NewDisposeScope();
        // Four tokens, K = 1: capacity 2, so each expert's quantile is its third largest s - p. Three tokens have
        // p = -2, so both experts' third largest is about 2.7: beyond expert 0's window [-1, 1), inside expert 1's [-10, 10).
        var window = new ReadoutWindow(3, [-1f, -10f], [1f, 10f], 10);
        var scores = tensor(new[] { 0.9f, 0.9f, 0.8f, 0.8f, 0.7f, 0.7f, 0.1f, 0.1f }).view(4, 2);
        var prices = tensor(new[] { -2f, -2f, -2f, 0f });

        var readout = ExpertHistogram.Build(scores, prices, window).ReadOut(topK: 1);

        Assert.Equal([true, false], readout.InEdge);
        Assert.Equal(0.5, readout.EdgeShare);
        Assert.InRange(readout.Values[1], 2f, 4f); // within expert 1's bin [2, 4) that holds 2.7
    }

    [Fact]
    public void A_histogram_binned_with_another_window_is_rebinned_at_its_bins_middles_and_keeps_every_token()
    {
        using var scope = NewDisposeScope();
        var scores = TestScores.Make(500, 4, seed: 2);
        var p = zeros(500);
        var wide = ExpertHistogram.Build(scores, p, new ReadoutWindow(5, [0f, 0f, 0f, 0f], [1f, 1f, 1f, 1f], 100));
        var narrow = new ExpertHistogram(new ReadoutWindow(6, [0.2f, 0.2f, 0.2f, 0.2f], [0.3f, 0.3f, 0.3f, 0.3f], 10));

        narrow.AddRebinned(wide);

        Assert.Equal(500, narrow.Tokens);
        for (var j = 0; j < 4; j++)
        {
            var values = TestScores.ToArray(scores[.., j]);
            Assert.Equal(500, narrow.CountsOf(j).ToArray().Sum());
            // The wide window's bin [0.25, 0.26) moves, by its middle 0.255, to the narrow one's [0.25, 0.26); bins
            // whose middles lie beyond the narrow window go to its edge cells.
            Assert.Equal(values.Count(v => v >= 0.25f && v < 0.26f), narrow.CountsOf(j)[5]);
            Assert.Equal(values.Count(v => v < 0.21f), narrow.CountsOf(j)[0]);
            Assert.Equal(values.Count(v => v >= 0.29f), narrow.CountsOf(j)[9]);
        }
    }

    [Fact]
    public void Counts_on_the_device_match_counting_each_score_on_the_host()
    {
        using var scope = NewDisposeScope();
        var (n, m) = (700, 16);
        var scores = TestScores.Make(n, m, seed: 9, skew: 3);
        var p = rand(n).Times(0.1f);
        var range = HistogramRange.Default;

        var histogram = ExpertHistogram.Build(scores, p, range);

        var (values, prices) = (TestScores.ToArray(scores), TestScores.ToArray(p));
        var expected = new long[m * range.Bins];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < m; j++)
            {
                var bin = (int)Math.Clamp(Math.Floor((values[(i * m) + j] - prices[i] - range.Low) / range.Width), 0, range.Bins - 1);
                expected[(j * range.Bins) + bin]++;
            }
        }
        Assert.Equal(expected, histogram.Counts.ToArray());
    }

    [Fact]
    public void Values_outside_the_range_are_counted_in_the_edge_bins()
    {
        using var scope = NewDisposeScope();
        var range = new HistogramRange(-0.5f, 0.5f, 10);
        var scores = tensor(new[] { 0.9f, 0.0f, 0.1f, 0.2f }, [2, 2]);
        var histogram = ExpertHistogram.Build(scores, tensor(new[] { -0.5f, 0.1f }), range);

        Assert.Equal(2, histogram.Tokens);
        Assert.Equal(1, histogram.CountsOf(0)[9]); // 0.9 + 0.5 = 1.4 lies above the range
        Assert.Equal(1, histogram.CountsOf(0)[5]); // 0.1 - 0.1 = 0
        Assert.Equal(1, histogram.CountsOf(1)[10 - 1]); // 0.0 + 0.5 = 0.5 is the upper edge
        Assert.Equal(1, histogram.CountsOf(1)[6]); // 0.2 - 0.1 = 0.1
    }

    [Fact]
    public void Bad_ranges_and_bad_counts_are_rejected_with_a_reason()
    {
        Assert.Contains("low < high", Assert.Throws<ArgumentException>(() => new HistogramRange(1f, 1f, 10)).Message);
        Assert.Contains("low < high", Assert.Throws<ArgumentException>(() => new HistogramRange(float.NaN, 1f, 10)).Message);
        Assert.Contains("at least 2 bins", Assert.Throws<ArgumentException>(() => new HistogramRange(-1f, 1f, 1)).Message);

        var range = new HistogramRange(-1f, 1f, 4);
        Assert.Throws<InvalidOperationException>(() => new ExpertHistogram(2, range).ExpertPrices(1, true));

        using var scope = NewDisposeScope();
        Assert.Contains("one entry per token", Assert.Throws<ArgumentException>(() => ExpertHistogram.Build(rand(3, 2), zeros(2), range)).Message);
    }

    [Fact]
    public void Sparse_summaries_merged_into_a_recycled_histogram_give_the_counts_and_prices_of_the_whole_batch()
    {
        using var scope = NewDisposeScope();
        var scores = TestScores.Make(600, 8, seed: 4, skew: 3);
        var p = DualBalancing.TokenPrices(scores, zeros(8), 2, clip: true);
        var parts = Enumerable.Range(0, 3)
            .Select(t => ExpertHistogram.Build(scores.narrow(0, t * 200, 200), p.narrow(0, t * 200, 200), HistogramRange.Default))
            .ToList();
        var dense = ExpertHistogram.Build(scores, p, HistogramRange.Default);
        var sparse = new ExpertHistogram(8, HistogramRange.Default);
        sparse.AddValidated(parts[0].ToSparse(), parts[0].Tokens);
        sparse.Reset(sparse.Window); // recycled: what a balancer does with the histogram of a committed step

        foreach (var part in parts)
            sparse.AddValidated(part.ToSparse(), part.Tokens);

        Assert.True(dense.Counts.SequenceEqual(sparse.Counts));
        Assert.Equal(600, sparse.Tokens);
        Assert.Equal(dense.ExpertPrices(2, clip: true), sparse.ExpertPrices(2, clip: true));
        Assert.Equal(dense.ExpertPrices(2, clip: false), sparse.ExpertPrices(2, clip: false));
        Assert.True(parts[0].ToSparse().Length < 8 * HistogramRange.Default.Bins / 4); // sparse is much smaller
    }

    [Fact]
    public void Bad_sparse_counts_are_refused_with_the_problem_named()
    {
        var range = new HistogramRange(0f, 1f, 4);
        Assert.Contains("2 indices but 1", Refused(new SparseCounts([0, 5], [2])));
        Assert.Contains("out of order", Refused(new SparseCounts([5, 0], [1, 1])));
        Assert.Contains("outside 0..7", Refused(new SparseCounts([0, 8], [1, 1])));
        Assert.Contains("non-negative", Refused(new SparseCounts([0, 1, 5], [2, -1, 1])));
        Assert.Contains("Expert 1's histogram counts 2", Refused(new SparseCounts([0, 5], [1, 2])));

        string Refused(SparseCounts counts) =>
            Assert.Throws<ArgumentException>(() => ExpertHistogram.ValidateSparse(2, range.Bins, 1, counts)).Message;
    }
}
