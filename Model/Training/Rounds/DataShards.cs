namespace Moe.Model.Training.Rounds;

/// <summary>
/// Cuts the seeded sequence order of <see cref="Data.SequenceSampler"/> into shards of one round's work for one
/// trainer (H steps of B sequences). Shard g is the g-th such slice over all epochs: epoch g / ShardsPerEpoch,
/// slot g mod ShardsPerEpoch. The few sequences left over at the end of an epoch are not used.
/// </summary>
public sealed record DataShards
{
    public DataShards(int sequences, int innerSteps, int batchSize)
    {
        if (innerSteps < 1 || batchSize < 1)
            throw new ArgumentException($"Inner steps and batch size must be at least 1, got {innerSteps} and {batchSize}.");
        SequencesPerShard = innerSteps * batchSize;
        ShardsPerEpoch = sequences / SequencesPerShard;
        if (ShardsPerEpoch < 1)
            throw new ArgumentException(
                $"{sequences} training sequences do not fill one shard of {innerSteps} steps x {batchSize} sequences; use more text, fewer inner steps or a smaller batch.");
        Sequences = sequences;
        InnerSteps = innerSteps;
        BatchSize = batchSize;
    }

    public int Sequences { get; }

    public int InnerSteps { get; }

    public int BatchSize { get; }

    public int SequencesPerShard { get; }

    public int ShardsPerEpoch { get; }

    public int EpochOf(long shard) => (int)(shard / ShardsPerEpoch);

    /// <summary>The sampler positions of inner step <paramref name="step"/> (0..H-1) of a shard.</summary>
    public long[] Positions(long shard, int step)
    {
        if (shard < 0 || step < 0 || step >= InnerSteps)
            throw new ArgumentOutOfRangeException(nameof(step), $"Shard {shard}, step {step} is outside 0..{InnerSteps - 1}.");
        var first = ((long)EpochOf(shard) * Sequences) + ((shard % ShardsPerEpoch) * SequencesPerShard) + ((long)step * BatchSize);
        return [.. Enumerable.Range(0, BatchSize).Select(b => first + b)];
    }
}
