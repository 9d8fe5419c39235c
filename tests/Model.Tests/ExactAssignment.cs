using Google.OrTools.Graph;
using Moe.Model.Balancing;

namespace Moe.Model.Tests;

/// <summary>
/// The exact optimum of the capacitated top-K assignment (max sum s x, sum_j x = K per token, sum_i x &lt;= c per
/// expert, x binary). It is a transportation problem, so integral min-cost flow solves it exactly.
/// </summary>
internal static class ExactAssignment
{
    private const double Scale = 1e6;

    public sealed record Solution(double Objective, long[] Loads);

    public static Solution Solve(float[] scores, int tokens, int experts, int topK)
    {
        var capacity = DualBalancing.Capacity(tokens, experts, topK);
        var flow = new MinCostFlow();
        int source = 0, sink = 1 + tokens + experts;
        int Token(int i) => 1 + i;
        int Expert(int j) => 1 + tokens + j;

        var assignmentArcs = new List<(int Arc, int Token, int Expert)>();
        for (var i = 0; i < tokens; i++)
        {
            flow.AddArcWithCapacityAndUnitCost(source, Token(i), topK, 0);
            for (var j = 0; j < experts; j++)
            {
                var cost = -(long)Math.Round(scores[(i * experts) + j] * Scale);
                assignmentArcs.Add((flow.AddArcWithCapacityAndUnitCost(Token(i), Expert(j), 1, cost), i, j));
            }
        }
        for (var j = 0; j < experts; j++)
            flow.AddArcWithCapacityAndUnitCost(Expert(j), sink, capacity, 0);
        flow.SetNodeSupply(source, (long)tokens * topK);
        flow.SetNodeSupply(sink, -(long)tokens * topK);

        var status = flow.Solve();
        if (status != MinCostFlowBase.Status.OPTIMAL)
            throw new InvalidOperationException($"Min-cost flow did not solve: {status}.");

        var loads = new long[experts];
        var objective = 0.0;
        foreach (var (arc, i, j) in assignmentArcs)
        {
            if (flow.Flow(arc) == 1)
            {
                loads[j]++;
                objective += scores[(i * experts) + j];
            }
        }
        return new Solution(objective, loads);
    }
}
