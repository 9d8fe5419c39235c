using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Moe.Actors.Hosting;
using Moe.Model.Inference;
using Moe.Model.Network;
using Moe.Model.Training.Rounds;

namespace Moe.Cluster.Host.Tests;

/// <summary>
/// The README's cluster of processes (scripts/local-cluster.sh), for real: the Cluster.Host executable as a seed (coordinator and balancers,
/// serving the blob store over HTTP) and trainer processes; one trainer is killed with SIGKILL mid-job and another
/// joins. The job must keep committing rounds, lose none, take the newcomer's work, and end with a loadable checkpoint.
/// </summary>
[Trait("Category", "Integration")]
[Collection(nameof(RunAlone))]
public sealed partial class LocalClusterTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("cluster-").FullName;
    private readonly List<Node> _nodes = [];

    public void Dispose()
    {
        foreach (var node in _nodes)
            node.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [GeneratedRegex(@"round (\d+) of (\d+)")]
    private static partial Regex Round();

    [Fact]
    public async Task A_three_process_cluster_survives_a_killed_trainer_and_takes_in_a_new_one()
    {
        var text = Path.Combine(_directory, "text.txt");
        var random = new Random(2);
        string[] words = ["the", "router", "balances", "experts", "while", "trainers", "join", "and", "leave", "a", "cluster"];
        await File.WriteAllLinesAsync(text, Enumerable.Range(0, 3000).Select(_ => string.Join(' ', Enumerable.Range(0, 10).Select(_ => words[random.Next(words.Length)]))), TestContext.Current.CancellationToken);
        var seedPort = MoeNodeHost.FreePort();
        var blobs = $"http://127.0.0.1:{MoeNodeHost.FreePort()}";
        const int Rounds = 40;

        var seed = Start("seed", ["--roles", "coordinator,balancer", "--port", $"{seedPort}", "--serve-blobs", blobs,
            "--job-id", "e2e", "--preset", "tiny", "--rounds", $"{Rounds}", "--inner-steps", "4", "--text", text],
            ("MOE_Job__RoundTimeout", "00:00:20"));
        string[] trainer = ["--roles", "trainer", "--seed", $"127.0.0.1:{seedPort}", "--port", "0", "--blobs", blobs, "--trainers", "1"];
        // A trainer that asks to join before the seed listens retries only after several seconds, by which time a
        // job of tiny rounds is far along with the other one alone.
        await seed.WaitFor(l => l.StartsWith("Member of the cluster", StringComparison.Ordinal), TimeSpan.FromMinutes(1));
        var survivor = Start("a", trainer);
        var doomed = Start("b", trainer);

        await seed.WaitFor(l => Round().Match(l) is { Success: true } m && int.Parse(m.Groups[1].Value) >= 3, TimeSpan.FromMinutes(3));
        await seed.WaitFor(l => l.Contains("started with 2 trainers", StringComparison.Ordinal), TimeSpan.FromMinutes(2));
        // All three members Up, not only WeaklyUp (in which a trainer already takes part in rounds): the split brain
        // resolver counts Up members, and with two of them, a tie, it may keep the killed one's side and down the seed.
        await AllUp([seed, survivor, doomed], TimeSpan.FromMinutes(2));
        doomed.Kill();
        var newcomer = Start("c", trainer);
        var newcomerId = (await newcomer.WaitFor(l => l.StartsWith("Node akka.tcp://", StringComparison.Ordinal), TimeSpan.FromMinutes(1)))
            .Split('@')[1].Split(' ')[0] + "/trainer-0";
        await seed.WaitFor(l => l.Contains("finished", StringComparison.Ordinal), TimeSpan.FromMinutes(5));
        var written = await seed.WaitFor(l => l.StartsWith("Model folder: ", StringComparison.Ordinal), TimeSpan.FromMinutes(1));

        var rounds = seed.Lines.Select(l => Round().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).ToList();
        Assert.Equal(rounds.Order(), rounds); // committed rounds never go back
        Assert.Equal(Rounds, rounds[^1]);
        Assert.Contains(seed.Lines, l => l.Contains("trainers", StringComparison.Ordinal) && l.Contains(newcomerId, StringComparison.Ordinal));

        using var model = ModelFolder.Load(written["Model folder: ".Length..].Trim(), TorchSharp.torch.CPU);
        Assert.Equal(ModelPresets.Get("tiny").Model.Dim, model.Model.Config.Dim);
        Assert.Equal($"{Rounds}", model.Provenance["committed_rounds"]);
    }

    private Node Start(string name, string[] args, params (string Key, string Value)[] environment)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _directory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Cluster.Host.dll"));
        foreach (var arg in new[] { "node", "--data-dir", Path.Combine(_directory, name) }.Concat(args))
            start.ArgumentList.Add(arg);
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        var node = new Node(name, Process.Start(start)!);
        _nodes.Add(node);
        return node;
    }

    // Whichever member leads logs each move to Up, so the lines may be in any node's output.
    private static async Task AllUp(IReadOnlyList<Node> nodes, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (nodes.SelectMany(n => n.Lines).Where(l => l.Contains("Leader is moving node", StringComparison.Ordinal) && l.Contains("to [Up]", StringComparison.Ordinal))
            .Select(l => l.Split("Leader is moving node [")[1].Split(']')[0]).Distinct().Count() < nodes.Count)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Not all {nodes.Count} members were moved to Up within {timeout}.");
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
    }

    private sealed class Node : IDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _lines = new();

        public Node(string name, Process process)
        {
            Name = name;
            _process = process;
            _process.OutputDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public string Name { get; }

        public IReadOnlyList<string> Lines => [.. _lines];

        public async Task<string> WaitFor(Func<string, bool> match, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (DateTime.UtcNow < deadline)
            {
                if (_lines.FirstOrDefault(match) is { } line)
                    return line;
                if (_process.HasExited)
                    break;
                await Task.Delay(200, TestContext.Current.CancellationToken);
            }
            throw new TimeoutException($"Node {Name} did not print the expected line; its output:\n{string.Join('\n', _lines.TakeLast(40))}");
        }

        /// <summary>SIGKILL: no shutdown, no leave; the cluster has to notice.</summary>
        public void Kill() => _process.Kill(entireProcessTree: true);

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
            _process.Dispose();
        }
    }
}

/// <summary>
/// Tests whose processes detect failures by heartbeats: on a machine busy with the other tests a stalled process
/// looks dead and the cluster splits, so they run alone, after the rest.
/// </summary>
[CollectionDefinition(nameof(RunAlone), DisableParallelization = true)]
public sealed class RunAlone;
