using System.Text.RegularExpressions;
using System.Xml.Linq;
using Moe.Cluster.Host.Tests.Support;

namespace Moe.Cluster.Host.Tests.Deploy;

/// <summary>helm/Dockerfile, checked without docker: its inputs exist and its entry point runs our program.</summary>
public sealed partial class DockerfileTests
{
    private static readonly string[] Lines = File.ReadAllLines(Path.Combine(RepositoryRoot.Path, "helm", "Dockerfile"));

    [Fact]
    public void Every_file_the_build_copies_from_the_context_exists()
    {
        var sources = Lines.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from=", StringComparison.Ordinal))
            .SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1])
            .ToList();

        Assert.NotEmpty(sources);
        Assert.All(sources, s => Assert.True(
            File.Exists(Path.Combine(RepositoryRoot.Path, s)) || Directory.Exists(Path.Combine(RepositoryRoot.Path, s)), $"{s} does not exist"));
        // What the build copies must not be excluded from the context.
        var ignored = File.ReadAllLines(Path.Combine(RepositoryRoot.Path, ".dockerignore")).Where(l => l.Length > 0 && l[0] != '#').ToList();
        Assert.All(sources, s => Assert.DoesNotContain(ignored, i => s.StartsWith(i.TrimEnd('/'), StringComparison.Ordinal)));
    }

    [Fact]
    public void The_entry_point_runs_the_published_program_and_the_default_command_exists()
    {
        var assembly = XDocument.Load(Path.Combine(RepositoryRoot.Path, "Cluster.Host", "Cluster.Host.csproj")).Descendants("AssemblyName").Single().Value;
        var entry = Lines.Single(l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal));
        var command = Regex.Match(Lines.Single(l => l.StartsWith("CMD", StringComparison.Ordinal)), @"\[""(\w+)""\]").Groups[1].Value;

        Assert.Equal($"ENTRYPOINT [\"dotnet\", \"/app/{assembly}.dll\"]", entry); // exec form: the program is PID 1 and gets SIGTERM
        Assert.Contains(Cli.Build().Subcommands, c => c.Name == command);
        Assert.Contains("args: [\"node\"]", ChartFiles.Define("moe-cluster.nodeContainer"), StringComparison.Ordinal);
        Assert.Contains(Cli.Build().Subcommands, c => c.Name == "report");
    }

    [Fact]
    public void Both_torch_backends_have_a_runtime_stage_and_the_image_runs_as_a_non_root_user_on_the_charts_ports()
    {
        var backend = Regex.Match(Lines.First(l => l.StartsWith("ARG TORCH_BACKEND", StringComparison.Ordinal)), "=(\\w+)").Groups[1].Value;
        var values = ChartFiles.Values();

        Assert.Equal("cpu", backend);
        Assert.Contains(Lines, l => l == "FROM runtime-${TORCH_BACKEND} AS final");
        Assert.Contains(Lines, l => l.StartsWith("FROM ", StringComparison.Ordinal) && l.EndsWith(" AS runtime-cpu", StringComparison.Ordinal));
        Assert.Contains(Lines, l => l.StartsWith("FROM ", StringComparison.Ordinal) && l.EndsWith(" AS runtime-cuda", StringComparison.Ordinal));
        Assert.Contains(Lines, l => l.Contains("-p:TorchBackend=${TORCH_BACKEND}", StringComparison.Ordinal) && l.Contains("dotnet publish", StringComparison.Ordinal));
        Assert.Equal("USER $APP_UID", Lines.Last(l => l.StartsWith("USER", StringComparison.Ordinal)));
        var exposed = Lines.Single(l => l.StartsWith("EXPOSE", StringComparison.Ordinal)).Split(' ')[1..];
        Assert.Equal([values.Scalar("ports.remoting")!, values.Scalar("ports.management")!, values.Scalar("blobs.httpPort")!], exposed);
        Assert.Contains(Lines, l => l.Contains($"MOE_Node__HttpUrl=http://0.0.0.0:{values.Scalar("ports.management")}", StringComparison.Ordinal));
        Assert.Contains(Lines, l => l.Contains($"/app/corpus/", StringComparison.Ordinal)); // BrownCorpus.BundledArchive
    }
}
