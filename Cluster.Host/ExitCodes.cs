namespace Moe.Cluster.Host;

public static class ExitCodes
{
    public const int Success = 0;

    /// <summary>Something unexpected failed; the message and stack trace went to standard error.</summary>
    public const int Failure = 1;

    /// <summary>The input (a file, an option value) is wrong; the one-line message says what to change.</summary>
    public const int BadInput = 2;

    /// <summary>Stopped by Ctrl-C or SIGTERM before the command could finish cleanly (128 + SIGINT, as shells report it).</summary>
    public const int Cancelled = 130;
}
