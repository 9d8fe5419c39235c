namespace Moe.Actors.Faults;

/// <summary>What a failure calls for: another try, or a person who changes something (and which exit code says so).</summary>
public enum FailureKind
{
    /// <summary>May pass by itself (a peer restarting, a network blip): retried with backoff, up to a limit.</summary>
    Transient,

    /// <summary>The job's input or configuration is wrong (a missing file, damaged data, settings that cannot be built).</summary>
    Input,

    /// <summary>The machine is not as the job needs it (a full disk, no permission, a database that keeps failing).</summary>
    Environment,
}
