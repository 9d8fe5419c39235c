namespace Moe.Cluster.Host.Tests;

/// <summary>`Cluster.Host compare` on the tiny preset, through the real command line.</summary>
public sealed class CompareCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("compare-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string WriteText()
    {
        var random = new Random(3);
        string[] words = ["the", "jury", "said", "county", "election", "mayor", "city", "voters", "budget", "report", "of", "and"];
        var path = Path.Combine(_directory, "text.txt");
        File.WriteAllText(path, string.Join(' ', Enumerable.Range(0, 20000).Select(_ => words[random.Next(words.Length)])));
        return path;
    }

    [Fact]
    public async Task Compare_writes_the_table_the_step_log_and_the_plots()
    {
        var output = Path.Combine(_directory, "report");
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = await Cli.RunAsync(
            ["compare", "--preset", "tiny", "--methods", "topk,bip,topk:cf=1", "--steps", "12", "--experts", "6", "--top-k", "3", "--text", WriteText(),
             "--data-dir", Path.Combine(_directory, "data"), "--out", output, "--ep", "2,3", "--ep-setup", "inter=25e9,tokens=2048"], stdout, stderr, TestContext.Current.CancellationToken);

        Assert.True(code == 0, stderr.ToString());
        var csv = File.ReadAllLines(Path.Combine(output, "compare.csv"));
        Assert.StartsWith("method,val ppl,AvgMaxVio_batch", csv[0]);
        Assert.Equal(["topk", "bip", "topk:cf=1"], csv[1..].Select(l => l.Split(',')[0]));
        Assert.Equal("1.000", csv[1].Split(',')[9]); // top-K's step time relative to itself
        Assert.Equal(["0.00", "0.00"], csv[1..3].Select(l => l.Split(',')[7])); // dropless methods drop nothing
        Assert.True(double.Parse(csv[3].Split(',')[7], System.Globalization.CultureInfo.InvariantCulture) > 0, csv[3]); // top-K at capacity 1 drops what it overloads
        Assert.Equal(1 + (3 * 12), File.ReadAllLines(Path.Combine(output, "steps.csv")).Length);
        Assert.Contains("| bip |", File.ReadAllText(Path.Combine(output, "compare.md")));
        var parallel = File.ReadAllLines(Path.Combine(output, "expert-parallel.csv"));
        Assert.Equal(1 + (3 * 2 * 3), parallel.Length); // methods x E x placements
        // A dropless method is never faster than balance; at capacity factor 1 no expert, and so no rank, gets more
        // than balance would give it.
        Assert.All(parallel[1..], l => Assert.True(l.StartsWith("topk:cf=1,", StringComparison.Ordinal)
            ? double.Parse(l.Split(',')[5], System.Globalization.CultureInfo.InvariantCulture) <= 1 + 1e-9
            : double.Parse(l.Split(',')[4], System.Globalization.CultureInfo.InvariantCulture) >= 1, l));
        Assert.Contains("InterNodeBytesPerSecond = 25000000000", File.ReadAllText(Path.Combine(output, "expert-parallel.md")));
        foreach (var plot in new[] { "maxvio-mean.png", "maxvio-worst.png", "loss.png", "expert-parallel.png" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(output, plot));
            Assert.True(bytes.Length > 10_000, plot);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        }
        Assert.Contains("AvgMaxVio_batch", stdout.ToString());
        Assert.Contains("6 experts of hidden", stdout.ToString()); // the shape given over the preset's
        Assert.Contains("top-3", stdout.ToString());
        Assert.Contains("Report:", stdout.ToString());
    }

    [Fact]
    public async Task Reports_of_runs_made_in_groups_merge_into_one_and_runs_that_differ_do_not()
    {
        var text = WriteText();
        async Task<string> Compare(string methods, int seed)
        {
            var folder = Path.Combine(_directory, $"{methods}-{seed}");
            var stderr = new StringWriter();
            var code = await Cli.RunAsync(["compare", "--preset", "tiny", "--methods", methods, "--steps", "4", "--seed", $"{seed}", "--experts", "6", "--top-k", "3",
                "--text", text, "--data-dir", Path.Combine(_directory, "data"), "--out", folder, "--ep", "2,3"], new StringWriter(), stderr, TestContext.Current.CancellationToken);
            Assert.True(code == 0, stderr.ToString());
            return folder;
        }
        var (topK, bip, otherSeed) = (await Compare("topk", 1), await Compare("bip", 1), await Compare("qb", 2));
        var merged = Path.Combine(_directory, "merged");

        var code = await Cli.RunAsync(["compare", "--merge", $"{topK},{bip}", "--out", merged], new StringWriter(), new StringWriter(), TestContext.Current.CancellationToken);

        Assert.Equal(0, code);
        Assert.Equal(["topk", "bip"], File.ReadAllLines(Path.Combine(merged, "compare.csv"))[1..].Select(l => l.Split(',')[0]));
        Assert.Equal(1 + (2 * 4), File.ReadAllLines(Path.Combine(merged, "steps.csv")).Length);
        Assert.Equal(1 + (2 * 2 * 3), File.ReadAllLines(Path.Combine(merged, "expert-parallel.csv")).Length);
        Assert.Contains("| bip |", File.ReadAllText(Path.Combine(merged, "expert-parallel.md")));
        foreach (var (folders, problem) in new[] { ($"{topK},{topK}", "appears in more than one folder"), ($"{topK},{otherSeed}", "differ in their report titles"), (topK, "two or more") })
        {
            var stderr = new StringWriter();
            Assert.Equal(2, await Cli.RunAsync(["compare", "--merge", folders, "--out", merged], new StringWriter(), stderr, TestContext.Current.CancellationToken));
            Assert.Contains(problem, stderr.ToString());
        }
    }

    [Fact]
    public async Task Bad_methods_and_missing_text_are_named()
    {
        var stderr = new StringWriter();
        var code = await Cli.RunAsync(["compare", "--preset", "tiny", "--methods", "topk,bogus", "--text", WriteText()], new StringWriter(), stderr, TestContext.Current.CancellationToken);
        Assert.Equal(2, code);
        Assert.Contains("Unknown router 'bogus'", stderr.ToString());

        stderr = new StringWriter();
        code = await Cli.RunAsync(["compare", "--preset", "tiny", "--text", Path.Combine(_directory, "nothing.txt")], new StringWriter(), stderr, TestContext.Current.CancellationToken);
        Assert.Equal(2, code);
        Assert.Contains("no such file or folder", stderr.ToString());

        foreach (var (option, value, problem) in new[]
        {
            ("--ep", "5", "must divide the 16 experts"), ("--ep-setup", "flops=fast", "is not NAME=NUMBER"), ("--ep-setup", "warp=9", "unknown constant"),
            ("--methods", "topk:cf=lots", "options are cf=NUMBER"), ("--methods", "topk:clip=q", "for bip and qb clip="),
        })
        {
            stderr = new StringWriter();
            code = await Cli.RunAsync(["compare", "--preset", "small-16e", option, value, "--text", WriteText()], new StringWriter(), stderr, TestContext.Current.CancellationToken);
            Assert.Equal(2, code);
            Assert.Contains(problem, stderr.ToString());
        }
    }
}
