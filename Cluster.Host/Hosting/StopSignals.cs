using System.Runtime.InteropServices;

namespace Moe.Cluster.Host.Hosting;

/// <summary>
/// Which signal stopped the command, for its exit code (as shells report it: 128 + the signal's number). The
/// command line's own handlers cancel the command; these only take note.
/// </summary>
internal static class StopSignals
{
    private static int _last;

    public static IDisposable Watch()
    {
        Volatile.Write(ref _last, 0);
        var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => Volatile.Write(ref _last, ExitCodes.Interrupted));
        var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => Volatile.Write(ref _last, ExitCodes.Terminated));
        return new Registrations(interrupt, terminate);
    }

    /// <summary>143 after SIGTERM, else 130 (Ctrl-C, or a caller that cancelled the command).</summary>
    public static int ExitCode => Volatile.Read(ref _last) == ExitCodes.Terminated ? ExitCodes.Terminated : ExitCodes.Interrupted;

    private sealed class Registrations(params IDisposable[] registrations) : IDisposable
    {
        public void Dispose()
        {
            foreach (var registration in registrations)
                registration.Dispose();
        }
    }
}
