namespace Moe.Actors.Faults;

/// <summary>A failure no retry mends: <paramref name="Message"/> is one line naming what is wrong and what to do.</summary>
public sealed record PermanentFailure(FailureKind Kind, string Message);

/// <summary>Thrown where the code knows a failure is permanent, so that <see cref="Failures.Classify"/> need not guess.</summary>
public sealed class PermanentFailureException(FailureKind kind, string message) : Exception(message)
{
    public FailureKind Kind { get; } = kind;
}
