using System.Diagnostics;

namespace Moe.Benchmarks;

/// <summary>
/// This process's CPU time, all of it and that of the trainers' threads (a trainer's compute thread and the OpenMP
/// threads it started, which inherit its name), sampled every 100 ms so that the CPU spent between two instants
/// known only afterwards (commit times read back from the journal) can be read by interpolation. What is not the
/// trainers' is the actor layer's (actors, persistence, the coordinator's outer step, blobs, the JIT, the GC).
/// </summary>
internal sealed class CpuSampler : IDisposable
{
    /// <summary>Linux reports thread CPU time in clock ticks of 10 ms (USER_HZ = 100).</summary>
    private const double SecondsPerTick = 0.01;

    private readonly Process _process = Process.GetCurrentProcess();
    private readonly List<Sample> _samples = [];
    private readonly Stopwatch _sampling = new();
    private readonly Timer _timer;
    private bool _disposed;

    public CpuSampler()
    {
        Take();
        _timer = new Timer(_ => Take(), null, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100));
    }

    /// <summary>What sampling itself took, all of it on the actor layer's side of the split.</summary>
    public TimeSpan SamplingTime => _sampling.Elapsed;

    /// <summary>CPU seconds spent from <paramref name="from"/> to <paramref name="to"/> (UTC, within the sampled span): all, and the trainers'.</summary>
    public (double All, double Trainers) CpuSeconds(DateTime from, DateTime to)
    {
        var (start, end) = (At(from), At(to));
        return (end.All - start.All, end.Trainers - start.Trainers);
    }

    public void Dispose()
    {
        _timer.Dispose();
        Take();
        lock (_samples)
        {
            _process.Dispose();
            _disposed = true; // a tick already under way finds it so and takes nothing
        }
    }

    private sealed record Sample(DateTime At, double All, double Trainers);

    private void Take()
    {
        lock (_samples)
        {
            if (_disposed)
                return;
            _sampling.Start();
            _process.Refresh();
            _samples.Add(new Sample(DateTime.UtcNow, _process.TotalProcessorTime.TotalSeconds, TrainerThreadsSeconds()));
            _sampling.Stop();
        }
    }

    private static double TrainerThreadsSeconds()
    {
        long ticks = 0;
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(task, "stat"));
            }
            catch (IOException)
            {
                continue; // the thread ended
            }
            // "tid (comm) state ppid ...": comm may hold spaces, so the fields count from its closing parenthesis;
            // utime and stime are fields 14 and 15, the 12th and 13th after it.
            var open = stat.IndexOf('(', StringComparison.Ordinal);
            var close = stat.LastIndexOf(')');
            if (!stat.AsSpan(open + 1, close - open - 1).StartsWith("trainer", StringComparison.Ordinal))
                continue;
            var fields = stat[(close + 2)..].Split(' ');
            ticks += long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
        }
        return ticks * SecondsPerTick;
    }

    private Sample At(DateTime at)
    {
        lock (_samples)
        {
            var after = _samples.FindIndex(s => s.At >= at);
            if (after <= 0)
                throw new InvalidOperationException($"{at:O} is outside the sampled span {_samples[0].At:O} to {_samples[^1].At:O}.");
            var (before, next) = (_samples[after - 1], _samples[after]);
            var share = (at - before.At) / (next.At - before.At);
            return new Sample(at, before.All + (next.All - before.All) * share, before.Trainers + (next.Trainers - before.Trainers) * share);
        }
    }
}
