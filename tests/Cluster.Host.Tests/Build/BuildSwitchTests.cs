using System.Diagnostics;
using System.Text.Json;
using Moe.Cluster.Host.Tests.Support;

namespace Moe.Cluster.Host.Tests.Build;

/// <summary>
/// The TorchBackend build switch, checked by evaluating the Model project with MSBuild (no restore: the CUDA
/// package is not served on our machines).
/// </summary>
[Trait("Category", "Integration")]
public class BuildSwitchTests
{
    private static readonly string Repository = RepositoryRoot.Path;

    [Theory]
    [InlineData("cpu", "libtorch-cpu-linux-x64", "TorchSharp-cuda-linux")]
    [InlineData("cuda", "TorchSharp-cuda-linux", "libtorch-cpu-linux-x64")]
    public async Task Torch_backend_selects_its_native_package(string backend, string expected, string absent)
    {
        var (code, output) = await MsBuild($"-getItem:PackageReference -p:TorchBackend={backend}");
        Assert.True(code == 0, output);
        var packages = JsonDocument.Parse(output).RootElement.GetProperty("Items").GetProperty("PackageReference")
            .EnumerateArray().Select(e => e.GetProperty("Identity").GetString()).ToArray();
        Assert.Contains("TorchSharp", packages);
        Assert.Contains(expected, packages);
        Assert.DoesNotContain(absent, packages);
    }

    [Fact]
    public async Task An_unknown_backend_stops_the_build_with_the_allowed_values()
    {
        var (code, output) = await MsBuild("-t:CheckTorchBackend -p:TorchBackend=rocm");
        Assert.NotEqual(0, code);
        Assert.Contains("TorchBackend must be 'cpu' (default) or 'cuda', got 'rocm'", output);
    }

    private static async Task<(int Code, string Output)> MsBuild(string arguments)
    {
        var start = new ProcessStartInfo("dotnet", $"msbuild {Path.Combine(Repository, "Model", "Model.csproj")} -nologo {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return (process.ExitCode, await output + await error);
    }
}
