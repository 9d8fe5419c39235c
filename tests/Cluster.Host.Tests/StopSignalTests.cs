using System.Diagnostics;
using System.Text.RegularExpressions;
using Moe.Testing;

namespace Moe.Cluster.Host.Tests;

/// <summary>`train` as a real process, stopped by a signal: it persists, then exits as shells report the signal.</summary>
[Trait("Category", "Integration")]
public sealed partial class StopSignalTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [GeneratedRegex(@"\((\d+) of \d+ rounds\)")]
    private static partial Regex CommittedRounds();

    [Theory]
    [InlineData("TERM", ExitCodes.Terminated)]
    [InlineData("INT", ExitCodes.Interrupted)]
    public async Task A_stopped_train_exits_with_the_signals_code_and_keeps_every_committed_round(string signal, int expected)
    {
        var token = TestContext.Current.CancellationToken;
        var data = Path.Combine(_temp.Path, "data");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _temp.Path };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "Cluster.Host.dll"), "train", "--preset", "tiny", "--rounds", "500",
            "--trainers", "1", "--text", SampleText.Write(_temp.Path), "--data-dir", data })
        {
            start.ArgumentList.Add(arg);
        }
        using var train = Process.Start(start)!;
        var output = train.StandardOutput.ReadToEndAsync(token);
        try
        {
            var before = await Eventually.Answer<int, IOException>(() => Committed(data), n => n >= 2, TimeSpan.FromSeconds(120), "two committed rounds", token);

            using (var kill = Process.Start("kill", [$"-{signal}", train.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await kill.WaitForExitAsync(token);
            await train.WaitForExitAsync(token).WaitAsync(TimeSpan.FromSeconds(90), token);

            Assert.True(train.ExitCode == expected, $"exit code {train.ExitCode}; output:\n{await output}");
            Assert.True(await Committed(data) >= before, "a committed round was lost");
            Assert.Contains("Run the same command again to resume", await output, StringComparison.Ordinal);
        }
        finally
        {
            if (!train.HasExited)
                train.Kill(entireProcessTree: true);
        }
    }

    // What the journal holds, read as `report` reads it (no data directory lock: it only reads).
    private static async Task<int> Committed(string data)
    {
        var output = new StringWriter();
        if (await Cli.RunAsync(["report", "--data-dir", data, "--out", Path.Combine(data, "..", "probe")], output, TextWriter.Null, TestContext.Current.CancellationToken) != 0)
            throw new IOException("no job recorded yet");
        return int.Parse(CommittedRounds().Match(output.ToString()).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }
}
