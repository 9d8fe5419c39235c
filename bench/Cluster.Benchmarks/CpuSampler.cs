using System.Diagnostics;
using System.Globalization;

namespace Moe.Benchmarks;

/// <summary>
/// This process's CPU time, all of it and that of the trainers' threads (a trainer's compute thread and the OpenMP
/// threads it started, which inherit its name), sampled every 100 ms so that the CPU spent between two instants
/// known only afterwards (commit times read back from the journal) can be read by interpolation. What is not the
/// trainers' is the actor layer's (actors, persistence, the coordinator's outer step, blobs, the JIT, the GC), less
/// what sampling itself took.
/// </summary>
internal sealed class CpuSampler : IDisposable
{
    /// <summary>Linux reports thread CPU time in clock ticks of 10 ms (USER_HZ = 100).</summary>
    private const double SecondsPerTick = 0.01;

    private readonly Process _process = Process.GetCurrentProcess();
    private readonly List<Sample> _samples = [];
    private readonly Dictionary<string, long> _trainerTicks = []; // by thread id and start time: a thread that ended keeps its count
    private readonly Stopwatch _sampling = new();
    private readonly Timer _timer;
    private bool _disposed;

    public CpuSampler()
    {
        Take();
        _timer = new Timer(_ => Take(), null, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100));
    }

    /// <summary>CPU seconds from <paramref name="from"/> to <paramref name="to"/> (UTC, within the sampled span): all, the trainers', and sampling's.</summary>
    public (double All, double Trainers, double Sampling) CpuSeconds(DateTime from, DateTime to)
    {
        var (start, end) = (At(from), At(to));
        return (end.All - start.All, end.Trainers - start.Trainers, end.Sampling - start.Sampling);
    }

    public void Dispose()
    {
        _timer.Dispose();
        lock (_samples)
        {
            _process.Dispose();
            _disposed = true; // a tick already under way finds it so and takes nothing
        }
    }

    private sealed record Sample(DateTime At, double All, double Trainers, double Sampling);

    private void Take()
    {
        lock (_samples)
        {
            if (_disposed)
                return;
            _sampling.Start();
            _process.Refresh();
            var all = _process.TotalProcessorTime.TotalSeconds;
            var trainers = TrainerThreadsSeconds();
            _sampling.Stop();
            _samples.Add(new Sample(DateTime.UtcNow, all, trainers, _sampling.Elapsed.TotalSeconds));
        }
    }

    private double TrainerThreadsSeconds()
    {
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
            // utime and stime are fields 14 and 15, the 12th and 13th after it, and starttime field 22, which keeps
            // a thread apart from a later one that gets its id again.
            var open = stat.IndexOf('(', StringComparison.Ordinal);
            var close = stat.LastIndexOf(')');
            if (!stat.AsSpan(open + 1, close - open - 1).StartsWith("trainer", StringComparison.Ordinal))
                continue;
            var fields = stat[(close + 2)..].Split(' ');
            _trainerTicks[$"{Path.GetFileName(task)} {fields[19]}"] = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        return _trainerTicks.Values.Sum() * SecondsPerTick;
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
            double Between(Func<Sample, double> value) => value(before) + (value(next) - value(before)) * share;
            return new Sample(at, Between(s => s.All), Between(s => s.Trainers), Between(s => s.Sampling));
        }
    }
}
