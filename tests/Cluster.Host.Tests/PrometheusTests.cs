using System.Diagnostics;
using System.Text.Json;
using Moe.Actors.Hosting;

namespace Moe.Cluster.Host.Tests;

/// <summary>
/// A real Prometheus server (Debian's package; .ci/run installs it) scrapes a running job, and promtool lints the
/// exposition. Without the binaries the tests are skipped with a message.
/// </summary>
[Trait("Category", "Integration")]
public sealed class PrometheusTests : IDisposable
{
    private const string Prometheus = "/usr/bin/prometheus";
    private const string Promtool = "/usr/bin/promtool";
    private readonly string _directory = Directory.CreateTempSubdirectory("prometheus-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task A_real_prometheus_server_scrapes_the_series_and_promtool_accepts_the_exposition()
    {
        if (!File.Exists(Prometheus) || !File.Exists(Promtool))
            Assert.Skip("Prometheus is not installed (apt-get install prometheus); .ci/run installs it.");
        var metricsPort = MoeNodeHost.FreePort();
        var prometheusPort = MoeNodeHost.FreePort();
        var text = Path.Combine(_directory, "text.txt");
        var random = new Random(4);
        string[] words = ["the", "router", "balances", "experts", "while", "trainers", "join", "and", "leave"];
        await File.WriteAllLinesAsync(text, Enumerable.Range(0, 3000).Select(_ => string.Join(' ', Enumerable.Range(0, 10).Select(_ => words[random.Next(words.Length)]))), TestContext.Current.CancellationToken);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var train = Cli.RunAsync(["train", "--preset", "tiny", "--rounds", "400", "--inner-steps", "2", "--trainers", "1",
            "--text", text, "--data-dir", Path.Combine(_directory, "data"), "--http", $"http://127.0.0.1:{metricsPort}"], TextWriter.Null, TextWriter.Null, stop.Token);

        var config = Path.Combine(_directory, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: moe
                static_configs:
                  - targets: ["127.0.0.1:{metricsPort}"]
            """, TestContext.Current.CancellationToken);
        using var server = Process.Start(new ProcessStartInfo(Prometheus)
        {
            ArgumentList = { $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(_directory, "tsdb")}", $"--web.listen-address=127.0.0.1:{prometheusPort}" },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        try
        {
            using var http = new HttpClient();
            var series = new Dictionary<string, int>();
            var deadline = DateTime.UtcNow.AddSeconds(90);
            string[] wanted = ["moe_tokens_total", "moe_layer_max_vio", "moe_expert_load", "moe_step_duration_seconds_bucket", "moe_committed_rounds"];
            while (DateTime.UtcNow < deadline && wanted.Any(w => series.GetValueOrDefault(w) == 0))
            {
                await Task.Delay(1000, TestContext.Current.CancellationToken);
                foreach (var name in wanted)
                    series[name] = await Count(http, prometheusPort, name);
            }
            var exposition = await http.GetStringAsync($"http://127.0.0.1:{metricsPort}/metrics", TestContext.Current.CancellationToken);
            var (lintCode, lint) = await Run(Promtool, ["check", "metrics"], exposition);

            Assert.All(wanted, name => Assert.True(series[name] > 0, $"Prometheus has no series of {name}"));
            Assert.True(lintCode == 0, $"promtool check metrics: {lint}");
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await stop.CancelAsync(); // Ctrl-C for the job: it stops cleanly
            await train;
        }
    }

    private static async Task<int> Count(HttpClient http, int port, string metric)
    {
        try
        {
            using var document = JsonDocument.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/api/v1/query?query={metric}"));
            return document.RootElement.GetProperty("data").GetProperty("result").GetArrayLength();
        }
        catch (HttpRequestException)
        {
            return 0; // not up yet
        }
    }

    private static async Task<(int Code, string Output)> Run(string program, string[] args, string input)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, output);
    }
}
