using System.Diagnostics;
using Akka.Actor;
using Moe.Actors.Balancing;
using Moe.Actors.Blobs;
using Moe.Actors.Hosting;
using Moe.Actors.Training;
using Moe.Testing;

namespace Moe.Benchmarks;

/// <summary>
/// The survivors' pace after a trainer's node is lost mid-round without a word (its transport goes silent, as under
/// SIGKILL), on a loopback cluster: one node with the coordinator and the balancers, three trainer nodes of one
/// trainer each. The pace is the time per step the first layer's balancer commits, over a window before the loss
/// and over the same window from 5 s after it; a graceful leave of a second trainer, later, gives the same figure
/// without failure detection, since losing a trainer also frees its share of the CPU. With <c>processes</c>, the
/// trainers are `node` processes and the loss is a real SIGKILL of one of them.
/// </summary>
internal static class KillTrainerBench
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(15);

    public static async Task Run(string directory, string preset, bool processes)
    {
        var text = SampleText.Write(directory, sentences: 8000);
        NodeSettings Node(string name, int seed, params string[] roles) => new()
        {
            DataDirectory = Path.Combine(directory, name),
            Roles = roles,
            Seeds = seed == 0 ? [] : [$"127.0.0.1:{seed}"],
            Persistence = new PersistenceSettings { ConnectionString = $"Data Source={Path.Combine(directory, "cluster.db")}" },
            Blobs = new BlobStoreSettings { Directory = Path.Combine(directory, "blobs") },
            Trainer = new TrainerSettings { Count = 1, Device = "cpu" },
        };
        await using var hub = await BenchNodes.StartAsync(Node("hub", 0, NodeRoles.Coordinator, NodeRoles.Balancer));
        if (processes)
        {
            await RunWithProcesses(directory, preset, text, hub);
            return;
        }
        var trainers = new List<ClusterNode>();
        for (var k = 0; k < 3; k++)
            trainers.Add(await BenchNodes.StartAsync(Node($"t{k}", hub.Port, NodeRoles.Trainer)));
        try
        {
            await StartJob(hub, preset, text);

            var before = await SecondsPerStep(hub);
            await trainers[2].CrashAsync();
            await Task.Delay(TimeSpan.FromSeconds(5));
            var afterKill = await SecondsPerStep(hub);
            await trainers[1].DisposeAsync(); // a graceful leave: the coordinator learns of it at once
            await Task.Delay(TimeSpan.FromSeconds(5));
            var afterLeave = await SecondsPerStep(hub);

            Console.WriteLine($"preset={preset} trainers=3 before={before:F3} s/step");
            Console.WriteLine($"after-kill (2 survivors, from 5 s after the SIGKILL-like loss)={afterKill:F3} s/step ratio={afterKill / before:F2}");
            Console.WriteLine($"after-leave (1 survivor, from 5 s after a graceful leave)={afterLeave:F3} s/step ratio={afterLeave / before:F2}");
        }
        finally
        {
            foreach (var node in trainers)
                await node.DisposeAsync();
        }
    }

    private static async Task RunWithProcesses(string directory, string preset, string text, ClusterNode hub)
    {
        var host = Path.Combine(AppContext.BaseDirectory, "Cluster.Host.dll");
        var trainers = Enumerable.Range(0, 3).Select(k => Process.Start(new ProcessStartInfo("dotnet")
        {
            ArgumentList =
            {
                host, "node", "--roles", NodeRoles.Trainer, "--seed", $"127.0.0.1:{hub.Port}", "--port", "0", "--trainers", "1",
                "--device", "cpu", "--blobs", Path.Combine(directory, "blobs"), "--data-dir", Path.Combine(directory, $"p{k}"),
            },
            Environment = { ["MOE_Trainer__IntraOpThreads"] = "1" }, // three trainers share two cores as evenly as they can
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!).ToList();
        foreach (var trainer in trainers)
        {
            trainer.OutputDataReceived += (_, _) => { }; // drained, so that a full pipe never blocks a trainer
            trainer.ErrorDataReceived += (_, _) => { };
            trainer.BeginOutputReadLine();
            trainer.BeginErrorReadLine();
        }
        try
        {
            await StartJob(hub, preset, text);
            var before = await SecondsPerStep(hub);
            trainers[2].Kill(); // SIGKILL: no leave, no flush; the cluster has to notice
            await Task.Delay(TimeSpan.FromSeconds(5));
            var afterKill = await SecondsPerStep(hub);
            Console.WriteLine($"preset={preset} trainers=3 processes before={before:F3} s/step");
            Console.WriteLine($"after-sigkill (2 survivors, from 5 s after SIGKILL of a trainer process)={afterKill:F3} s/step ratio={afterKill / before:F2}");
        }
        finally
        {
            foreach (var trainer in trainers.Where(t => !t.HasExited))
                trainer.Kill();
        }
    }

    // Long rounds, so that the losses land mid-round, and a timeout no measurement reaches; returns once every
    // trainer has joined and warmed up.
    private static async Task StartJob(ClusterNode hub, string preset, string text)
    {
        var coordinator = hub.Registry.Get<TrainingCoordinatorKey>();
        var job = new JobSpec { JobId = "kill", Preset = preset, TextPath = text, Rounds = 1000, InnerSteps = 60, RoundTimeout = TimeSpan.FromMinutes(10) };
        await Eventually.Answer<JobStatus, AskTimeoutException>(() => coordinator.Ask<JobStatus>(GetJobStatus.Instance, TimeSpan.FromSeconds(2)),
            _ => true, TimeSpan.FromSeconds(60), "the coordinator");
        await coordinator.Ask<object>(new StartJob(job), TimeSpan.FromSeconds(30));
        await UntilStep(hub, 20, TimeSpan.FromMinutes(3));
    }

    private static async Task<long> Step(ClusterNode hub) =>
        (await hub.Balancers.Ask<BalancerStatus>(new GetBalancerStatus("kill", 0), TimeSpan.FromSeconds(5))).Step;

    private static async Task UntilStep(ClusterNode hub, long step, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (await Step(hub) < step)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"The balancer did not reach step {step} in {timeout}.");
            await Task.Delay(200);
        }
    }

    private static async Task<double> SecondsPerStep(ClusterNode hub)
    {
        var first = await Step(hub);
        var watch = Stopwatch.StartNew();
        await Task.Delay(Window);
        var last = await Step(hub);
        return last > first ? watch.Elapsed.TotalSeconds / (last - first) : double.PositiveInfinity;
    }
}
