using System.Net;
using System.Net.Sockets;
using Moe.Actors.Hosting;
using Moe.Testing;

namespace Moe.Cluster.Host.Tests;

/// <summary>Permanent problems stop a command before any node starts: one line naming what is wrong, a distinct exit code.</summary>
public sealed class FailFastTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static async Task<(int Code, string Error)> Run(params string[] args)
    {
        var error = new StringWriter();
        var code = await Cli.RunAsync(args, TextWriter.Null, error, TestContext.Current.CancellationToken);
        return (code, error.ToString());
    }

    private static void OneLine(string error, string expected)
    {
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_training_text_is_named_before_the_job_starts()
    {
        var (code, error) = await Run("train", "--preset", "tiny", "--text", "/nonexistent.txt", "--data-dir", _temp.Path);

        Assert.Equal(ExitCodes.BadInput, code);
        OneLine(error, "Job:TextPath (--text) /nonexistent.txt does not exist");
    }

    [Fact]
    public async Task A_variable_of_the_prefix_that_names_no_section_is_not_a_setting()
    {
        Environment.SetEnvironmentVariable("MOE_UNRELATED", "1"); // as MOE_TEST_POSTGRES or MOE_TEST_LOG are
        try
        {
            var (code, error) = await Run("train", "--preset", "tiny", "--text", "/nonexistent.txt", "--data-dir", _temp.Path);

            Assert.Equal(ExitCodes.BadInput, code);
            OneLine(error, "Job:TextPath"); // it got past the configuration
        }
        finally
        {
            Environment.SetEnvironmentVariable("MOE_UNRELATED", null);
        }
    }

    [Fact]
    public async Task An_unknown_configuration_section_is_refused_like_an_unknown_key()
    {
        var settings = Path.Combine(_temp.Path, "settings.json");
        File.WriteAllText(settings, """{ "Jobs": { "Rounds": 3 } }""");

        var (code, error) = await Run("train", "--config", settings, "--data-dir", _temp.Path);

        Assert.Equal(ExitCodes.BadInput, code);
        OneLine(error, "Configuration section Jobs");
    }

    [Fact]
    public async Task A_second_process_on_a_data_directory_is_refused_with_the_holder_named()
    {
        using var held = DataDirectoryLock.Acquire(_temp.Path); // as another process would hold it

        var (code, error) = await Run("train", "--preset", "tiny", "--data-dir", _temp.Path);

        Assert.Equal(ExitCodes.BadInput, code);
        OneLine(error, $"is in use by process {Environment.ProcessId}");
    }

    [Theory]
    [InlineData("--http", "Node:HttpUrl")]
    [InlineData("--port", "Node:Port")]
    public async Task A_port_in_use_is_named_with_its_setting(string flag, string setting)
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;
        var value = flag == "--http" ? $"http://127.0.0.1:{port}" : $"{port}";

        var (code, error) = await Run("node", flag, value, "--data-dir", _temp.Path);

        Assert.Equal(ExitCodes.Environment, code);
        OneLine(error, $"Port {port} of {setting}");
    }

    [Fact]
    public async Task An_unknown_router_lists_the_ones_there_are()
    {
        var (code, error) = await Run("train", "--preset", "tiny", "--data-dir", _temp.Path, "--config", Settings("""{ "Job": { "Router": "fancy" } }"""));

        Assert.Equal(ExitCodes.BadInput, code);
        OneLine(error, "Job:Router = fancy is invalid: use TopK, Bip, QuantileBalancing,");
    }

    private string Settings(string json)
    {
        var path = Path.Combine(_temp.Path, $"settings-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public async Task An_http_address_of_another_scheme_is_refused()
    {
        var (code, error) = await Run("node", "--http", "ftp://127.0.0.1:21", "--data-dir", _temp.Path);

        Assert.Equal(ExitCodes.BadInput, code);
        OneLine(error, "Node:HttpUrl \"ftp://127.0.0.1:21\" is invalid");
    }

    [Fact]
    public async Task A_shape_that_cannot_be_built_is_refused_naming_the_key_the_value_and_the_rule()
    {
        var (code, error) = await Run("train", "--preset", "tiny", "--heads", "3", "--data-dir", _temp.Path);

        Assert.Equal(ExitCodes.BadInput, code);
        OneLine(error, "Job:Dim: Dim (32) must split into 3 heads of an even size for rotary embeddings.");
    }

    [Fact]
    public async Task Shape_flags_on_a_node_without_the_coordinator_role_are_refused()
    {
        var (code, error) = await Run("node", "--roles", "trainer", "--seed", "127.0.0.1:1", "--job-id", "j", "--experts", "32", "--top-k", "4", "--data-dir", _temp.Path);

        Assert.Equal(ExitCodes.BadInput, code);
        OneLine(error, "--experts, --top-k shape a job's model, which comes from the coordinator");
    }

    [Fact]
    public async Task A_job_whose_memory_plan_does_not_fit_is_refused_with_the_numbers()
    {
        var (code, error) = await Run("train", "--preset", "small-16e", "--layers", "8", "--dim", "512", "--heads", "8", "--experts", "32", "--top-k", "4",
            "--context", "256", "--batch-size", "512", "--trainers", "1", "--data-dir", _temp.Path);

        Assert.Equal(ExitCodes.BadInput, code);
        OneLine(error, "the job does not fit cpu: 1 trainer x ");
        Assert.Contains("use fewer trainers (Trainer:Count), a smaller --batch-size with --grad-accum", error, StringComparison.Ordinal);
    }
}

