using Moe.Model.Balancing;

namespace Moe.Actors.Training;

/// <summary>
/// The latest global q per MoE layer as published by the balancers, shared between a trainer's mailbox (which
/// offers new q) and its training thread (which waits, up to a bound, for q recent enough: bounded staleness), and
/// the read-out windows of the last publications, which later steps bin their summaries with.
/// </summary>
internal sealed class QBoard(int layers)
{
    // Far more than any job's window lag: older windows are never asked for.
    private const int WindowsKept = 64;

    private readonly (long Step, float[]? Q)[] _latest = [.. Enumerable.Repeat((-1L, (float[]?)null), layers)];
    private readonly SortedList<long, ReadoutWindow>[] _windows = [.. Enumerable.Range(0, layers).Select(_ => new SortedList<long, ReadoutWindow>())];
    private readonly object _lock = new(); // Monitor.Wait/PulseAll need a plain object

    public int Layers => _latest.Length;

    public void Offer(int layer, long step, float[] q, ReadoutWindow? window = null)
    {
        if (layer < 0 || layer >= _latest.Length)
            return;
        lock (_lock)
        {
            if (window is not null)
            {
                var windows = _windows[layer];
                windows[step] = window;
                while (windows.Count > WindowsKept)
                    windows.RemoveAt(0);
            }
            if (step <= _latest[layer].Step)
                return;
            _latest[layer] = (step, q);
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>The window of the newest publication at or before <paramref name="step"/>; null when none is known.</summary>
    public ReadoutWindow? WindowAt(int layer, long step)
    {
        lock (_lock)
        {
            var windows = _windows[layer];
            for (var k = windows.Count - 1; k >= 0; k--)
            {
                if (windows.Keys[k] <= step)
                    return windows.Values[k];
            }
            return null;
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
