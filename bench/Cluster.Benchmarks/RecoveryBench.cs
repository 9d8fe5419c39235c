using System.Diagnostics;
using Akka.Actor;
using Moe.Actors.Blobs;
using Moe.Actors.Hosting;
using Moe.Actors.Training;
using Moe.Testing;

namespace Moe.Benchmarks;

/// <summary>
/// Time from the loss of the node holding the coordinator and the balancers to the next committed round, on a
/// 3-node loopback cluster (primary and standby with coordinator and balancer roles, one trainer), training the
/// tiny preset. Once as SIGTERM does it (coordinated shutdown, hand-over) and once as SIGKILL does (silence:
/// the split brain resolver must down the node first, after its production stable-after of 20 s).
/// </summary>
internal static class RecoveryBench
{
    public static async Task Run(string directory)
    {
        var text = SampleText.Write(directory, sentences: 4000);

        foreach (var crash in new[] { false, true })
        {
            var scenario = Path.Combine(directory, crash ? "kill" : "term");
            NodeSettings Node(string name, int seed, params string[] roles) => new()
            {
                DataDirectory = Path.Combine(scenario, name),
                Roles = roles,
                Seeds = seed == 0 ? [] : [$"127.0.0.1:{seed}"],
                Persistence = new PersistenceSettings { ConnectionString = $"Data Source={Path.Combine(scenario, "cluster.db")}" },
                Blobs = new BlobStoreSettings { Directory = Path.Combine(scenario, "blobs") },
            };
            var primary = await BenchNodes.StartAsync(Node("a", 0, NodeRoles.Coordinator, NodeRoles.Balancer));
            await using var standby = await BenchNodes.StartAsync(Node("b", primary.Port, NodeRoles.Coordinator, NodeRoles.Balancer));
            await using var trainer = await BenchNodes.StartAsync(Node("t", primary.Port, NodeRoles.Trainer));
            var coordinator = trainer.Registry.Get<TrainingCoordinatorKey>();
            var job = new JobSpec { JobId = "recovery", Preset = "tiny", TextPath = text, Rounds = 500, InnerSteps = 8, RoundTimeout = TimeSpan.FromSeconds(60) };
            await Until(coordinator, s => true, TimeSpan.FromSeconds(30));
            await coordinator.Ask<object>(new StartJob(job), TimeSpan.FromSeconds(30));
            var before = await Until(coordinator, s => s.CommittedRounds >= 5, TimeSpan.FromSeconds(120));

            var watch = Stopwatch.StartNew();
            if (crash)
                await primary.CrashAsync();
            else
                await primary.DisposeAsync();
            var after = await Until(coordinator, s => s.CommittedRounds > before.CommittedRounds + 1, TimeSpan.FromSeconds(180));
            watch.Stop();
            Console.WriteLine($"{(crash ? "SIGKILL-like loss" : "SIGTERM (graceful)")} of the coordinator and balancer node: next committed round after {watch.Elapsed.TotalSeconds:F1} s " +
                $"(rounds {before.CommittedRounds} -> {after.CommittedRounds}, none lost)");
        }
    }

    private static Task<JobStatus> Until(IActorRef coordinator, Func<JobStatus, bool> done, TimeSpan timeout) =>
        Eventually.Answer<JobStatus, AskTimeoutException>(() => coordinator.Ask<JobStatus>(GetJobStatus.Instance, TimeSpan.FromSeconds(2)),
            done, timeout, "the job's status");
}
