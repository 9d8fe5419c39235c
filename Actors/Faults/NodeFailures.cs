using System.Collections.Concurrent;
using Akka.Actor;

namespace Moe.Actors.Faults;

/// <summary>
/// Where a node's actors report failures that retrying does not mend, one instance per node: the first permanent
/// failure ends the process that hosts the node (see <see cref="Stopped"/>), with its one line and exit code. A
/// transient failure counts against its source; more than <see cref="MaxRetries"/> in a row make it permanent.
/// </summary>
/// <param name="findDamaged">Names the entry of a persistence id that does not read back (the journal's replay does not).</param>
public sealed class NodeFailures(int maxRetries, string dataDirectory, Func<ActorSystem, string, Task<string?>>? findDamaged = null)
{
    private readonly TaskCompletionSource<PermanentFailure> _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<string, int> _inARow = new(StringComparer.Ordinal);

    public int MaxRetries { get; } = maxRetries;

    internal Func<ActorSystem, string, Task<string?>>? FindDamaged { get; } = findDamaged;

    /// <summary>Completes with the first permanent failure reported.</summary>
    public Task<PermanentFailure> Stopped => _first.Task;

    public void Report(PermanentFailure failure) => _first.TrySetResult(failure);

    /// <summary>Records a failure of <paramref name="source"/> (a persistence id, a trainer) doing <paramref name="what"/>.</summary>
    /// <returns>The permanent failure it was or became, which is also reported; null while it is worth another try.</returns>
    public PermanentFailure? Failed(string source, string what, Exception error)
    {
        var kind = Failures.Classify(error);
        var inARow = _inARow.AddOrUpdate(source, 1, (_, n) => n + 1);
        if (kind == FailureKind.Transient && inARow <= MaxRetries)
            return null;
        var failure = kind == FailureKind.Transient
            ? new PermanentFailure(FailureKind.Environment,
                $"{what} failed {inARow} times in a row ({Failures.Message(error)}); it is not passing by itself: fix the cause and run again (Node:MaxRetries sets how many tries)")
            : new PermanentFailure(kind, $"{what}: {Failures.Message(error)}; {Failures.Remedy(error, dataDirectory)}");
        Report(failure);
        return failure;
    }

    /// <summary>A success of <paramref name="source"/> ends its run of failures.</summary>
    public void Succeeded(string source) => _inARow.TryRemove(source, out _);
}
