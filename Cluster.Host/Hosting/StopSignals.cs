using System.Runtime.InteropServices;

namespace Moe.Cluster.Host.Hosting;

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM cancel the running command, which then persists and shuts its node down; which of
/// the two arrived decides the exit code of a command that was stopped (as shells report it: 128 + the signal).
/// </summary>
internal sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly TaskCompletionSource _signalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly PosixSignalRegistration[] _registrations;
    private int _exitCode = ExitCodes.Interrupted;

    public StopSignals(CancellationToken cancellation)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, context => Stop(context, ExitCodes.Interrupted)),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => Stop(context, ExitCodes.Terminated)),
        ];
    }

    /// <summary>Cancelled by a signal or by the caller's token.</summary>
    public CancellationToken Token => _stop.Token;

    /// <summary>Completes when a signal arrived.</summary>
    public Task Signalled => _signalled.Task;

    /// <summary>143 after SIGTERM, else 130 (Ctrl-C, or a caller that cancelled the command).</summary>
    public int ExitCode => Volatile.Read(ref _exitCode);

    public void Dispose()
    {
        foreach (var registration in _registrations)
            registration.Dispose();
        _stop.Dispose();
    }

    // The process stays up: the command winds down on the cancelled token (the caller bounds how long it may take).
    private void Stop(PosixSignalContext context, int exitCode)
    {
        context.Cancel = true;
        Volatile.Write(ref _exitCode, exitCode);
        _signalled.TrySetResult();
        _stop.Cancel();
    }
}
