namespace Moe.Cluster.Host.Tests.Support;

/// <summary>Runs the command line in this process, as a user would type it, and keeps what it wrote.</summary>
internal static class CommandLine
{
    public static async Task<(int Code, string Output, string Error)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await Cli.RunAsync(args, output, error, TestContext.Current.CancellationToken);
        return (code, output.ToString(), error.ToString());
    }
}
