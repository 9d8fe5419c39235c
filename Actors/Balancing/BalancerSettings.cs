namespace Moe.Actors.Balancing;

/// <summary>How layer balancers merge, persist and guard. Bound from configuration (section "Balancer").</summary>
public sealed record BalancerSettings
{
    /// <summary>A snapshot every this many committed steps; the events it makes obsolete are deleted.</summary>
    public int SnapshotEvery { get; init; } = 100;

    /// <summary>Summaries more than this many steps past the last committed step are rejected as malformed.</summary>
    public long MaxStepsAhead { get; init; } = 10_000;

    /// <summary>A step is closed with what it has once trainers report this many steps past it.</summary>
    public int PendingWindow { get; init; } = 4;

    /// <summary>A step nobody added to for this long is closed with what it has (a trainer died mid-step).</summary>
    public TimeSpan FlushAfter { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Restart backoff after a crash, e.g. a journal write that failed.</summary>
    public TimeSpan MinBackoff { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(10);

    public void Validate()
    {
        if (SnapshotEvery < 1)
            throw new ArgumentException($"Balancer:SnapshotEvery must be at least 1, got {SnapshotEvery}.");
        if (MaxStepsAhead < 1)
            throw new ArgumentException($"Balancer:MaxStepsAhead must be at least 1, got {MaxStepsAhead}.");
        if (PendingWindow < 1)
            throw new ArgumentException($"Balancer:PendingWindow must be at least 1, got {PendingWindow}.");
        if (FlushAfter <= TimeSpan.Zero)
            throw new ArgumentException($"Balancer:FlushAfter must be positive, got {FlushAfter}.");
        if (MinBackoff <= TimeSpan.Zero || MaxBackoff < MinBackoff)
            throw new ArgumentException($"Balancer backoff must satisfy 0 < MinBackoff <= MaxBackoff, got {MinBackoff} and {MaxBackoff}.");
    }
}
