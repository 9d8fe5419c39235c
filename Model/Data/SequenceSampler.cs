using static TorchSharp.torch;

namespace Moe.Model.Data;

/// <summary>
/// Packs a token stream into fixed-length sequences (windows of length+1 that share their boundary token, so
/// inputs and next-token targets come from one window) and serves them in a seeded order, reshuffled each epoch.
/// The position (sequences served so far) is all a checkpoint needs to resume the same order.
/// </summary>
public sealed class SequenceSampler
{
    private readonly int[] _tokens;
    private readonly int _length;
    private readonly int _seed;
    private int _epoch = -1;
    private int[] _order = [];

    public SequenceSampler(int[] tokens, int length, int seed)
    {
        if (length < 1)
            throw new ArgumentException($"Sequence length must be at least 1, got {length}.", nameof(length));
        Sequences = (tokens.Length - 1) / length;
        if (Sequences < 1)
            throw new ArgumentException(
                $"{tokens.Length} tokens do not fill one sequence of {length} + 1; use more text or a shorter context.",
                nameof(tokens));
        _tokens = tokens;
        _length = length;
        _seed = seed;
    }

    public int Sequences { get; }

    /// <summary>Sequences served so far, over all epochs.</summary>
    public long Position { get; set; }

    public int Epoch => (int)(Position / Sequences);

    /// <summary>The next batch as (inputs, targets), both [batch, length] int64.</summary>
    public (Tensor Inputs, Tensor Targets) Next(int batchSize)
    {
        var sequences = new int[batchSize];
        for (var b = 0; b < batchSize; b++)
            sequences[b] = SequenceAt(Position++);
        return Window(sequences);
    }

    /// <summary>
    /// The batch of the sequences at the given positions of the seeded order (position p is sequence p mod
    /// Sequences of epoch p / Sequences), as cluster trainers read their data shard; leaves the position alone.
    /// </summary>
    public (Tensor Inputs, Tensor Targets) At(IReadOnlyList<long> positions) =>
        Window([.. positions.Select(SequenceAt)]);

    private (Tensor Inputs, Tensor Targets) Window(int[] sequences)
    {
        var window = new long[sequences.Length * (_length + 1)];
        for (var b = 0; b < sequences.Length; b++)
        {
            for (var t = 0; t <= _length; t++)
                window[(b * (_length + 1)) + t] = _tokens[(sequences[b] * _length) + t];
        }
        using var all = tensor(window, [sequences.Length, _length + 1]);
        return (all.narrow(1, 0, _length).contiguous(), all.narrow(1, 1, _length).contiguous());
    }

    /// <summary>The first sequences in stream order, in batches (for validation); leaves the position alone.</summary>
    public IEnumerable<(Tensor Inputs, Tensor Targets)> InOrder(int batchSize, int maxBatches = int.MaxValue)
    {
        batchSize = Math.Min(batchSize, Sequences);
        for (var b = 0; b < Math.Min(maxBatches, Sequences / batchSize); b++)
            yield return Window(Enumerable.Range(b * batchSize, batchSize).ToArray());
    }

    private int SequenceAt(long position)
    {
        var epoch = (int)(position / Sequences);
        if (epoch != _epoch)
        {
            _order = [.. Enumerable.Range(0, Sequences)];
            // Not HashCode.Combine: it is seeded per process, and the order must survive a restart.
            new Random(unchecked((_seed * 1_000_003) + epoch)).Shuffle(_order);
            _epoch = epoch;
        }
        return _order[(int)(position % Sequences)];
    }
}
