namespace Moe.Model.Parallelism;

/// <summary>Which of E expert-parallel ranks holds each of a layer's m experts; every rank holds m / E of them.</summary>
public sealed class ExpertPlacement
{
    private readonly int[] _rankOf;

    private ExpertPlacement(int[] rankOf, int ranks)
    {
        _rankOf = rankOf;
        Ranks = ranks;
    }

    public int Ranks { get; }

    public int Experts => _rankOf.Length;

    public int RankOf(int expert) => _rankOf[expert];

    /// <summary>Experts 0..m/E-1 on rank 0, the next m/E on rank 1, and so on (Megatron-LM's layout).</summary>
    public static ExpertPlacement Contiguous(int experts, int ranks)
    {
        Check(experts, ranks);
        return new([.. Enumerable.Range(0, experts).Select(j => j / (experts / ranks))], ranks);
    }

    /// <summary>Expert j on rank j mod E: neighbouring experts, often alike in popularity, on different ranks.</summary>
    public static ExpertPlacement RoundRobin(int experts, int ranks)
    {
        Check(experts, ranks);
        return new([.. Enumerable.Range(0, experts).Select(j => j % ranks)], ranks);
    }

    /// <summary>
    /// From loads seen before (any number of steps, m each): experts in decreasing order of their total load, each
    /// to the rank with the least load so far that still has room (greedy longest-processing-time), ties to the lower
    /// rank and the lower expert.
    /// </summary>
    public static ExpertPlacement LoadAware(IEnumerable<long[]> earlierLoads, int experts, int ranks)
    {
        Check(experts, ranks);
        var totals = new long[experts];
        foreach (var loads in earlierLoads)
        {
            if (loads.Length != experts)
                throw new ArgumentException($"Loads must have one entry per expert ({experts}), got {loads.Length}.", nameof(earlierLoads));
            for (var j = 0; j < experts; j++)
                totals[j] += loads[j];
        }
        var perRank = experts / ranks;
        var rankLoad = new long[ranks];
        var rankCount = new int[ranks];
        var rankOf = new int[experts];
        foreach (var expert in Enumerable.Range(0, experts).OrderByDescending(j => totals[j]).ThenBy(j => j))
        {
            var best = -1;
            for (var r = 0; r < ranks; r++)
            {
                if (rankCount[r] < perRank && (best < 0 || rankLoad[r] < rankLoad[best]))
                    best = r;
            }
            rankOf[expert] = best;
            rankLoad[best] += totals[expert];
            rankCount[best]++;
        }
        return new(rankOf, ranks);
    }

    private static void Check(int experts, int ranks)
    {
        if (ranks < 1 || experts < ranks || experts % ranks != 0)
            throw new ArgumentException($"Expert parallelism of {ranks} ranks needs a number of experts that it divides, got {experts}.", nameof(ranks));
    }
}
