using Moe.Model.Balancing;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

public class BalanceMeasuresTests
{
    [Fact]
    public void Measures_follow_their_definitions()
    {
        // 4 experts, 10 slots: mean 2.5.
        var m = BalanceMeasures.FromLoads([5, 3, 2, 0]);
        Assert.Equal(2.5, m.MeanLoad);
        Assert.Equal(5, m.MaxLoad);
        Assert.Equal(0, m.MinLoad);
        Assert.Equal(1.0, m.MaxVio, 12);
        Assert.Equal(0.0, m.MinOverMean);
        Assert.Equal(1, m.DeadExperts);
        Assert.Equal(0.5, m.ExpertParallelEfficiency, 12);
        Assert.Equal(Math.Sqrt(((2.5 * 2.5) + (0.5 * 0.5) + (0.5 * 0.5) + (2.5 * 2.5)) / 4) / 2.5, m.CoefficientOfVariation, 12);
    }

    [Fact]
    public void A_perfect_balance_has_no_violation()
    {
        var m = BalanceMeasures.FromLoads([4, 4, 4]);
        Assert.Equal(0.0, m.MaxVio);
        Assert.Equal(1.0, m.MinOverMean);
        Assert.Equal(0.0, m.CoefficientOfVariation);
        Assert.Equal(1.0, m.ExpertParallelEfficiency);
    }

    [Fact]
    public void Tensor_loads_and_span_loads_agree_and_objective_sums_chosen_scores()
    {
        using var scope = NewDisposeScope();
        Assert.Equal(BalanceMeasures.FromLoads([3, 1, 0]), BalanceMeasures.FromLoads(tensor(new long[] { 3, 1, 0 })));
        var scores = tensor(new[] { 0.5f, 0.25f, 0.25f, 0.1f, 0.2f, 0.7f }, [2, 3]);
        Assert.Equal(0.5 + 0.7, BalanceMeasures.Objective(scores, tensor(new long[] { 0, 2 }, [2, 1])), 6);
    }

    [Fact]
    public void Bad_loads_are_rejected_with_a_reason()
    {
        Assert.Contains("none", Assert.Throws<ArgumentException>(() => BalanceMeasures.FromLoads([])).Message);
        Assert.Contains("non-negative", Assert.Throws<ArgumentException>(() => BalanceMeasures.FromLoads([1, -1])).Message);
        Assert.Contains("all zero", Assert.Throws<ArgumentException>(() => BalanceMeasures.FromLoads([0, 0])).Message);
    }
}
