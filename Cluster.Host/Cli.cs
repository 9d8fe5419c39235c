using System.CommandLine;
using Moe.Actors.Faults;
using Moe.Actors.Hosting;
using Moe.Cluster.Host.Commands;
using Moe.Cluster.Host.Hosting;

namespace Moe.Cluster.Host;

/// <summary>The command line: one root command, one file per sub-command under Commands/.</summary>
public static class Cli
{
    /// <summary>How long Ctrl-C or SIGTERM leaves a command to stop cleanly (hand-over, leave) before the process exits.</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(60);

    public static RootCommand Build() => new("Elastic MoE training cluster with BIP-based expert balancing.")
    {
        BalanceCommand.Create(),
        CompareCommand.Create(),
        EvalCommand.Create(),
        ExportCommand.Create(),
        GenerateCommand.Create(),
        NodeCommand.Create(),
        PlanCommand.Create(),
        ReportCommand.Create(),
        TrainCommand.Create(),
    };

    /// <summary>Runs the command line; a malformed command line is bad input (exit 2), like a malformed file.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellation = default)
    {
        var parse = Build().Parse(args);
        if (parse.Errors.Count > 0 && !args.Any(a => a is "--help" or "-h" or "-?"))
        {
            foreach (var problem in parse.Errors)
                await error.WriteLineAsync($"error: {problem.Message}");
            await error.WriteLineAsync($"Run '{parse.CommandResult.Command.Name} --help' for usage.");
            return ExitCodes.BadInput;
        }
        using var signals = new StopSignals(cancellation);
        try
        {
            // Ctrl-C and SIGTERM cancel the command, which then shuts its node down; it has ShutdownTimeout for the
            // hand-over, and the process goes regardless after that.
            var invocation = parse.InvokeAsync(new InvocationConfiguration
            {
                Output = output,
                Error = error,
                ProcessTerminationTimeout = null, // the signals are ours (StopSignals), to tell SIGTERM from Ctrl-C
                EnableDefaultExceptionHandler = false,
            }, signals.Token);
            var overdue = signals.Signalled.ContinueWith(_ => Task.Delay(ShutdownTimeout), TaskScheduler.Default).Unwrap();
            if (await Task.WhenAny(invocation, overdue) != invocation)
            {
                await error.WriteLineAsync($"error: the command did not stop within {ShutdownTimeout.TotalSeconds:F0} s of the signal; exiting.");
                return signals.ExitCode;
            }
            var code = await invocation;
            return code == ExitCodes.Interrupted ? signals.ExitCode : code;
        }
        catch (PermanentFailureException e)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.Of(e.Kind);
        }
        catch (Exception e) when (BadData(e) is { } bad)
        {
            // A damaged or missing file may surface deep inside hosting: still one line, naming the file.
            await error.WriteLineAsync($"error: {bad.Message}");
            return ExitCodes.BadInput;
        }
        catch (OperationCanceledException)
        {
            await error.WriteLineAsync("Cancelled.");
            return signals.ExitCode;
        }
        catch (Exception e) when (Environmental(e) is { } environment)
        {
            await error.WriteLineAsync($"error: {environment.Message}");
            return ExitCodes.Environment;
        }
        catch (Exception e)
        {
            await error.WriteLineAsync($"Unhandled exception: {e}");
            return ExitCodes.Failure;
        }
    }

    private static Exception? Environmental(Exception e) =>
        e is PortInUseException ? e
        : e.InnerException is { } inner ? Environmental(inner)
        : null;

    private static Exception? BadData(Exception e) =>
        e is InvalidDataException or FileNotFoundException or DatabaseUnreachableException or DataDirectoryInUseException ? e
        : e.InnerException is { } inner ? BadData(inner)
        : null;

    /// <summary>The one-line message of a bad-input exception, without .NET's "(Parameter 'x')" suffix.</summary>
    public static string Describe(Exception e) =>
        e is ArgumentException { ParamName: { } name } argument
            ? argument.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal)
            : e.Message;
}
