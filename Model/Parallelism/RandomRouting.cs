using Moe.Model.Balancing;

namespace Moe.Model.Parallelism;

/// <summary>
/// The imbalance of routing by chance: each token to K distinct experts drawn uniformly. A method's MaxVio_batch near
/// this is sampling noise of the batch size, not a failure to balance.
/// </summary>
public static class RandomRouting
{
    /// <summary>The mean MaxVio_batch over <paramref name="draws"/> seeded batches of <paramref name="tokens"/> tokens.</summary>
    public static double MeanMaxVio(int tokens, int experts, int topK, int draws = 200, int seed = 1)
    {
        if (tokens < 1 || topK < 1 || topK > experts || draws < 1)
            throw new ArgumentException($"Need tokens >= 1, 1 <= K <= m and draws >= 1; got {tokens} tokens, K = {topK}, m = {experts}, {draws} draws.");
        var random = new Random(seed);
        var loads = new long[experts];
        var order = Enumerable.Range(0, experts).ToArray();
        var total = 0.0;
        for (var d = 0; d < draws; d++)
        {
            Array.Clear(loads);
            for (var i = 0; i < tokens; i++)
            {
                // A partial Fisher-Yates shuffle: the first K of the order are K distinct uniform experts.
                for (var k = 0; k < topK; k++)
                {
                    var pick = random.Next(k, experts);
                    (order[k], order[pick]) = (order[pick], order[k]);
                    loads[order[k]]++;
                }
            }
            total += BalanceMeasures.FromLoads(loads).MaxVio;
        }
        return total / draws;
    }
}
