namespace Moe.Actors.Training;

/// <summary>
/// The balancers' global q of every MoE layer, with the step each was read out at (-1: none published yet, and q
/// is the balancer's initial 0). A committed round keeps the newest its contributors had received, so a model
/// exported from it routes with what the cluster learnt.
/// </summary>
public sealed record GlobalQ
{
    public GlobalQ(long[] steps, float[][] q)
    {
        if (steps.Length != q.Length)
            throw new ArgumentException($"Global q needs one step per layer: {steps.Length} steps for {q.Length} layers.", nameof(steps));
        Steps = steps;
        Q = q;
    }

    public long[] Steps { get; }

    public float[][] Q { get; }

    /// <summary>What a trainer has received, per layer; layers without q yet hold zeros.</summary>
    internal static GlobalQ Of(QBoard board, int experts)
    {
        var latest = Enumerable.Range(0, board.Layers).Select(board.Latest).ToArray();
        return new GlobalQ([.. latest.Select(l => l.Q is null ? -1 : l.Step)], [.. latest.Select(l => l.Q ?? new float[experts])]);
    }

    /// <summary>Per layer, the newest of the candidates' q (one job's, so each has every layer); null when there is none.</summary>
    public static GlobalQ? Newest(IEnumerable<GlobalQ?> candidates)
    {
        var present = candidates.OfType<GlobalQ>().ToList();
        if (present.Count == 0)
            return null;
        var layers = present.Min(c => c.Steps.Length);
        var newest = Enumerable.Range(0, layers).Select(layer => present.MaxBy(c => c.Steps[layer])!).ToArray();
        return new GlobalQ([.. newest.Select((c, layer) => c.Steps[layer])], [.. newest.Select((c, layer) => c.Q[layer])]);
    }
}
