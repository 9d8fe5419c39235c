using System.Diagnostics;
using Moe.Testing;

namespace Moe.Cluster.Host.Tests;

/// <summary>
/// `train` on a small file system that fills up mid-job: it stops within seconds with exit code 3 and one line, and
/// every round it committed is still in the journal. The file system is a tmpfs in a mount namespace of its own.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DiskFullTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_full_disk_stops_the_job_with_exit_code_3_and_keeps_every_committed_round()
    {
        var token = TestContext.Current.CancellationToken;
        var mount = Directory.CreateDirectory(Path.Combine(_temp.Path, "small")).FullName;
        if (await Shell($"mount -t tmpfs -o size=1m tmpfs '{mount}'", token) is { } refusal)
            Assert.Skip($"this machine cannot mount a tmpfs in a user and mount namespace (unshare -Urm: {refusal})");
        var (host, data, stderr) = ($"dotnet '{Path.Combine(AppContext.BaseDirectory, "Cluster.Host.dll")}'", $"'{mount}/data'", Path.Combine(_temp.Path, "stderr"));
        // Everything that needs the tmpfs runs inside the namespace; the reports go outside it, where the test reads them.
        var script = string.Join('\n',
            $"mount -t tmpfs -o size=256m tmpfs '{mount}' || exit 97",
            $"{host} train --preset tiny --rounds 500 --trainers 1 --text '{SampleText.Write(_temp.Path)}' --data-dir {data} >/dev/null 2>'{stderr}' &",
            "train=$!",
            $"until {host} report --data-dir {data} --out '{_temp.Path}/before' 2>/dev/null | grep -Eq '\\(([2-9]|[1-9][0-9]+) of 500 rounds\\)'; do",
            "  kill -0 $train 2>/dev/null || break",
            "  sleep 1",
            "done",
            $"cat /dev/zero > '{mount}/filler' 2>/dev/null",
            "wait $train; echo \"exit=$?\"",
            $"rm '{mount}/filler'",
            $"{host} report --data-dir {data} --out '{_temp.Path}/after' >/dev/null; echo \"report=$?\"");
        using var shell = Start(script);
        try
        {
            var output = await shell.StandardOutput.ReadToEndAsync(token).WaitAsync(TimeSpan.FromMinutes(4), token);

            var error = await File.ReadAllTextAsync(stderr, token);
            Assert.True(output.Contains($"exit={ExitCodes.Environment}\n", StringComparison.Ordinal), $"{output}; standard error:\n{error}");
            var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("free space where", line, StringComparison.Ordinal);
            Assert.Contains("report=0\n", output, StringComparison.Ordinal);
            var before = Rounds(Path.Combine(_temp.Path, "before"));
            var after = Rounds(Path.Combine(_temp.Path, "after"));
            Assert.True(before.Count >= 2, $"{before.Count} rounds before the disk filled");
            Assert.Equal(Enumerable.Range(0, after.Count), after); // each once
            Assert.True(after.Count >= before.Count, $"{after.Count} rounds in the journal after, {before.Count} before the disk filled");
        }
        finally
        {
            shell.Kill(entireProcessTree: true);
        }
    }

    /// <summary>The rounds a report lists, in order.</summary>
    private static List<int> Rounds(string reports)
    {
        var csv = Directory.GetFiles(reports, "rounds.csv", SearchOption.AllDirectories).Single();
        return [.. File.ReadLines(csv).Skip(1).Select(l => int.Parse(l.Split(',')[0], System.Globalization.CultureInfo.InvariantCulture))];
    }

    private static Process Start(string script)
    {
        var start = new ProcessStartInfo("unshare") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--user", "--map-root-user", "--mount", "sh", "-c", script })
            start.ArgumentList.Add(arg);
        return Process.Start(start)!;
    }

    /// <returns>Null if the script ran in a namespace of its own, else why not.</returns>
    private static async Task<string?> Shell(string script, CancellationToken token)
    {
        try
        {
            using var probe = Start(script);
            await probe.WaitForExitAsync(token);
            return probe.ExitCode == 0 ? null : (await probe.StandardError.ReadToEndAsync(token)).Trim();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return e.Message; // no unshare
        }
    }

}
