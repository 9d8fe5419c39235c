using System.Runtime.InteropServices;
using Moe.Cluster.Host;

var code = await Cli.RunAsync(args, Console.Out, Console.Error);
// Everything is persisted and written by now. The process ends without running native static destructors: libtorch's
// can race with its own OpenMP worker threads at exit and crash a process whose work succeeded (exit 139).
Console.Out.Flush();
Console.Error.Flush();
NativeExit.Now(code);
return code;

internal static class NativeExit
{
    [DllImport("libc", EntryPoint = "_exit")]
    private static extern void Exit(int status);

    public static void Now(int code)
    {
        if (OperatingSystem.IsLinux())
            Exit(code);
    }
}
