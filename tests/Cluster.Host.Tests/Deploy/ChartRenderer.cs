using System.Diagnostics;
using Moe.Cluster.Host.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace Moe.Cluster.Host.Tests.Deploy;

/// <summary>
/// Renders the chart with Go's text/template, sprig and Helm's own functions (helm/render), built once per test run
/// with Debian's Go; .ci/run installs it. Where Go is missing, the tests that render say so and are skipped.
/// </summary>
internal static class ChartRenderer
{
    private static readonly Lazy<(string? Binary, string? Why)> Built = new(Build);

    /// <summary>The rendered documents for values laid over the chart's (YAML text), or the error Helm would report.</summary>
    public static (IReadOnlyList<YamlMappingNode> Documents, string Error) Render(string valuesYaml, params string[] apiVersions)
    {
        var (binary, why) = Built.Value;
        if (binary is null)
            Assert.Skip($"the chart renderer cannot be built here ({why}): install golang-go, golang-github-masterminds-sprig-dev and golang-gopkg-yaml.v3-dev, as .ci/run does");
        var values = Path.Combine(Path.GetTempPath(), $"values-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(values, valuesYaml);
        try
        {
            var (code, output, error) = Run(binary, [ChartFiles.Chart, values, .. apiVersions.SelectMany(a => new[] { "--api-version", a })]);
            if (code != 0)
                return ([], error);
            var stream = new YamlStream();
            stream.Load(new StringReader(output));
            return ([.. stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>()], "");
        }
        finally
        {
            File.Delete(values);
        }
    }

    private static (string? Binary, string? Why) Build()
    {
        var binary = Path.Combine(Path.GetTempPath(), $"moe-chart-render-{Environment.ProcessId}");
        try
        {
            var (code, _, error) = Run("bash", [Path.Combine(RepositoryRoot.Path, "helm", "render", "build.sh"), binary]);
            return code == 0 ? (binary, null) : (null, error.Trim());
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (null, e.Message);
        }
    }

    private static (int Code, string Output, string Error) Run(string file, string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Result, error);
    }
}
