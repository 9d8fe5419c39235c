using Moe.Actors.Faults;

namespace Moe.Cluster.Host;

public static class ExitCodes
{
    public const int Success = 0;

    /// <summary>Something unexpected failed; the message and stack trace went to standard error.</summary>
    public const int Failure = 1;

    /// <summary>The input (a file, an option value) is wrong; the one-line message says what to change.</summary>
    public const int BadInput = 2;

    /// <summary>The environment is not as the command needs it (a port taken); the one-line message says what to free.</summary>
    public const int Environment = 3;

    public static int Of(FailureKind kind) => kind == FailureKind.Environment ? Environment : BadInput;

    /// <summary>Stopped by Ctrl-C (128 + SIGINT, as shells report it), after persisting what was committed.</summary>
    public const int Interrupted = 130;

    /// <summary>Stopped by SIGTERM (128 + SIGTERM), after persisting what was committed.</summary>
    public const int Terminated = 143;
}
