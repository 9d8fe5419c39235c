namespace Moe.Model.Balancing;

/// <summary>
/// The non-zero cells of an <see cref="ExpertHistogram"/>: flat indices (expert x bins + bin), strictly increasing,
/// with their counts. A trainer's batch fills a few hundred of an expert's 1,000 bins at most, so this is what
/// travels and what a balancer merges: ten times less memory traffic than the dense counts.
/// </summary>
public sealed record SparseCounts(int[] Indices, long[] Counts)
{
    public int Length => Indices.Length;
}
