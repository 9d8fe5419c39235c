using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Moe.Testing;

namespace Moe.Cluster.Host.Tests;

/// <summary>The memory plan against one CPU trainer's measured peak memory, each shape in a process of its own.</summary>
[Trait("Category", "Integration")]
public sealed partial class MemoryPlanTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [GeneratedRegex(@"planned (?<planned>[\d.]+) GiB \(ratio (?<ratio>[\d.]+)\)")]
    private static partial Regex Measured();

    [Theory]
    [InlineData("--preset", "small-16e", "--batch-size", "4")]
    [InlineData("--preset", "small-16e")]
    [InlineData("--preset", "small-16e", "--layers", "4", "--dim", "256", "--heads", "4", "--experts", "16", "--expert-hidden", "512", "--context", "128", "--vocab", "4096")]
    public async Task The_plan_is_within_a_quarter_of_the_measured_peak_of_a_trainers_first_steps(params string[] shape)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _temp.Path };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "Cluster.Host.dll"), "plan", "--trainers", "1", "--measure" }.Concat(shape))
            start.ArgumentList.Add(arg);
        using var plan = Process.Start(start)!;
        var output = await plan.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await plan.WaitForExitAsync(TestContext.Current.CancellationToken);

        var measured = Measured().Match(output);
        Assert.True(plan.ExitCode == 0 && measured.Success, output + await plan.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken));
        Assert.InRange(double.Parse(measured.Groups["ratio"].Value, CultureInfo.InvariantCulture), 0.75, 1.25);
        if (shape.Length > 4)
            Assert.True(double.Parse(measured.Groups["planned"].Value, CultureInfo.InvariantCulture) >= 1.0, output); // the largest plans at least 1 GiB
    }
}
