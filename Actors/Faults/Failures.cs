using System.Runtime.Serialization;
using Microsoft.Data.Sqlite;

namespace Moe.Actors.Faults;

/// <summary>Tells transient failures from permanent ones, by the exception and the ones inside it.</summary>
public static class Failures
{
    private const int SqliteFull = 13;
    private const int SqliteReadOnly = 8;

    public static FailureKind Classify(Exception error)
    {
        foreach (var e in Chain(error))
        {
            switch (e)
            {
                case PermanentFailureException p:
                    return p.Kind;
                case IOException io when IsDiskFull(io):
                case SqliteException { SqliteErrorCode: SqliteFull or SqliteReadOnly }:
                case UnauthorizedAccessException:
                    return FailureKind.Environment;
                // Damaged stored data, a text or corpus that cannot be read, settings that cannot be built: the
                // same input fails the same way on every try.
                case SerializationException or InvalidDataException or ArgumentException:
                    return FailureKind.Input;
            }
        }
        return FailureKind.Transient;
    }

    /// <summary>What to do about a permanent failure, for the end of its one line.</summary>
    public static string Remedy(Exception error, string dataDirectory)
    {
        var chain = Chain(error).ToList();
        if (chain.Any(e => e is IOException io && IsDiskFull(io) || e is SqliteException { SqliteErrorCode: SqliteFull }))
            return $"free space where {Path.GetFullPath(dataDirectory)} lives (or give the node a larger volume), then run again";
        if (chain.Any(e => e is SerializationException))
            return "restore the database from a backup, or start the job afresh under another job id and data directory";
        return Classify(error) == FailureKind.Environment
            ? "fix the machine (permissions, disk, database) and run again"
            : "fix the job's input or settings and run again";
    }

    /// <summary>The innermost message, on one line, without its closing full stop (the caller's sentence goes on).</summary>
    public static string Message(Exception error) => error.GetBaseException().Message.ReplaceLineEndings(" ").TrimEnd('.', ' ');

    // ENOSPC and EDQUOT on Linux and macOS (.NET puts errno in HResult), ERROR_DISK_FULL and ERROR_HANDLE_DISK_FULL on Windows.
    private static bool IsDiskFull(IOException io) => io.HResult is 28 or 122 or 69 or unchecked((int)0x80070070) or unchecked((int)0x80070027);

    private static IEnumerable<Exception> Chain(Exception error)
    {
        var pending = new Stack<Exception>([error]);
        while (pending.TryPop(out var e))
        {
            yield return e;
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions)
                    pending.Push(inner);
            }
            else if (e.InnerException is { } inner)
            {
                pending.Push(inner);
            }
        }
    }
}
