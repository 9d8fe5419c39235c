using Moe.Model.Parallelism;

namespace Moe.Model.Tests;

public class ExpertParallelTimeTests
{
    // 1,000 FLOP/s at full efficiency, 10 B/s inside a node and 1 B/s across, 1 s per all-to-all, 2 bytes per
    // element; a layer of dimension 2 with experts of 3.
    private static readonly ExpertParallelSetup Toy = new(1000, 1, RanksPerNode: 2, 10, 1, 1, 2, Dim: 2, ExpertHidden: 3, TokensPerRank: 10);

    [Fact]
    public void The_most_loaded_rank_sets_the_compute_and_the_largest_transfer_the_all_to_alls()
    {
        // Loads 30, 10, 10, 10 on two ranks of one node: 40 and 20 copies. A copy costs 18 x 2 x 3 = 108 FLOPs and
        // carries 2 x 2 = 4 bytes; rank 0 receives half of its 40 copies from rank 1 (80 bytes, 8 s at 10 B/s).
        var placement = ExpertPlacement.Contiguous(4, 2);

        var time = ExpertParallelTime.Layer([30, 10, 10, 10], placement, Toy);
        var balanced = ExpertParallelTime.Balanced([30, 10, 10, 10], placement, Toy);

        Assert.Equal(40 * 108 / 1000.0, time.ComputeSeconds, 9);
        Assert.Equal(4 * (1 + 8.0), time.CommunicationSeconds, 9);
        Assert.Equal(30 * 108 / 1000.0, balanced.ComputeSeconds, 9); // 30 copies per rank
        Assert.Equal(4 * (1 + 6.0), balanced.CommunicationSeconds, 9); // 15 copies of 4 bytes from the other rank
    }

    [Fact]
    public void Traffic_to_another_node_goes_at_the_network_s_bandwidth()
    {
        // Four ranks, two per node, one expert each, 40 copies each: every rank receives 10 copies from its node's
        // other rank (40 bytes, 4 s) and 20 from the other node (80 bytes, 80 s at 1 B/s); the network sets the pace.
        var time = ExpertParallelTime.Layer([40, 40, 40, 40], ExpertPlacement.Contiguous(4, 4), Toy);

        Assert.Equal(4 * (1 + 80.0), time.CommunicationSeconds, 9);
    }

    [Fact]
    public void Placements_put_each_expert_on_one_rank_with_as_many_experts_per_rank()
    {
        Assert.Equal([0, 0, 1, 1, 2, 2], Ranks(ExpertPlacement.Contiguous(6, 3)));
        Assert.Equal([0, 1, 2, 0, 1, 2], Ranks(ExpertPlacement.RoundRobin(6, 3)));
        // Totals 9, 8, 1, 1, 7, 2: the greedy gives 9 to rank 0, 8 to rank 1, 7 to rank 2, 2 to rank 2 (least, 7),
        // 1 and 1 to ranks 1 and 0 (8 and 9 then), every rank holding two experts.
        var loadAware = ExpertPlacement.LoadAware([[5, 4, 1, 0, 3, 2], [4, 4, 0, 1, 4, 0]], 6, 3);
        Assert.Equal([0, 1, 1, 0, 2, 2], Ranks(loadAware));
        Assert.Contains("divides", Assert.Throws<ArgumentException>(() => ExpertPlacement.Contiguous(6, 4)).Message);

        static int[] Ranks(ExpertPlacement p) => [.. Enumerable.Range(0, p.Experts).Select(p.RankOf)];
    }
}
