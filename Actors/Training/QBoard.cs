namespace Moe.Actors.Training;

/// <summary>
/// The latest global q per MoE layer as published by the balancers, shared between a trainer's mailbox (which
/// offers new q) and its training thread (which waits, up to a bound, for q recent enough: bounded staleness).
/// </summary>
internal sealed class QBoard(int layers)
{
    private readonly (long Step, float[]? Q)[] _latest = [.. Enumerable.Repeat((-1L, (float[]?)null), layers)];
    private readonly object _lock = new(); // Monitor.Wait/PulseAll need a plain object

    public int Layers => _latest.Length;

    public void Offer(int layer, long step, float[] q)
    {
        if (layer < 0 || layer >= _latest.Length)
            return;
        lock (_lock)
        {
            if (step <= _latest[layer].Step)
                return;
            _latest[layer] = (step, q);
            Monitor.PulseAll(_lock);
        }
    }

    public (long Step, float[]? Q) Latest(int layer)
    {
        lock (_lock)
            return _latest[layer];
    }

    /// <summary>Waits until every layer has q of at least <paramref name="step"/>; false if the wait ran out.</summary>
    public bool WaitForAll(long step, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (step < 0)
            return true;
        var deadline = DateTime.UtcNow + timeout;
        lock (_lock)
        {
            while (_latest.Any(l => l.Step < step))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                    return false;
                Monitor.Wait(_lock, left < TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100));
            }
            return true;
        }
    }
}
