using System.Diagnostics;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Moe.Actors.Balancing;
using Moe.Actors.Hosting;
using Moe.Model.Balancing;
using Moe.Model.Devices;
using Moe.Model.Routing;
using static TorchSharp.torch;

namespace Moe.Benchmarks;

/// <summary>
/// Layer balancer figures: summaries merged per second on one node (m = 64 and 4 trainers unless given, SQLite
/// journal) with their wire size, and the time from a trainer's summary to the new q reaching the trainer's node on
/// a 2-node cluster.
/// </summary>
internal static class BalancerBench
{
    private const int DefaultExperts = 64, TopK = 8, TokensPerTrainer = 2048, DefaultTrainers = 4;

    private static LayerSpec SpecOf(int experts) => LayerSpec.Create(experts, TopK, HistogramRange.Default, clip: true);

    public static async Task Throughput(string directory, int steps, int warmUpSteps, int experts = DefaultExperts, int trainers = DefaultTrainers)
    {
        var spec = SpecOf(experts);
        // Every summary is told at once, and a balancer refuses steps too far ahead of its last q: it would never
        // reach the last step.
        var limit = new BalancerSettings().MaxStepsAhead;
        if (Math.Max(steps, warmUpSteps) >= limit)
            throw new ArgumentException($"balancer {steps} {warmUpSteps}: fewer than {limit} steps (Balancer:MaxStepsAhead) in each phase.");
        var variants = Summaries(variants: 3, experts, trainers);
        await using var node = await BenchNodes.StartAsync(Settings(directory, "throughput", NodeRoles.Balancer, NodeRoles.Coordinator));
        var balancers = node.Registry.Get<LayerBalancerRegion>();

        // The merge alone, without actor or journal, on the same summaries (what the actor costs on top), then the
        // actor: all summaries told at once, timed until q of the last step is persisted.
        async Task<(TimeSpan Merge, TimeSpan Actor)> Measure(string job, int stepCount)
        {
            var merge = Stopwatch.StartNew();
            var pending = new PendingSteps(spec);
            for (var step = 1; step <= stepCount; step++) // from 1: the summaries' window was read at step 0
            {
                foreach (var summary in variants[step % variants.Length])
                {
                    var stepped = summary with { Step = step };
                    if (SummaryValidation.Problem(spec, step - 1, 1_000_000, stepped) is { } problem)
                        throw new InvalidOperationException(problem);
                    pending.Add(stepped, DateTime.UtcNow);
                }
                foreach (var ready in pending.TakeReady(4, TimeSpan.FromSeconds(1), DateTime.UtcNow))
                {
                    var (merged, _) = pending.Merged(ready);
                    var readout = merged.ReadOut(TopK);
                    _ = (readout.Prices(clip: true), merged.Window.Next(ready.Step, merged, readout, DualBalancing.Capacity(merged.Tokens, experts, TopK)));
                    pending.Recycle(ready);
                }
            }
            merge.Stop();

            await balancers.Ask<CurrentQ>(new ConfigureLayer(job, 0, spec), TimeSpan.FromSeconds(30));
            var actor = Stopwatch.StartNew();
            for (var step = 1; step <= stepCount; step++)
            {
                foreach (var summary in variants[step % variants.Length])
                    balancers.Tell(summary with { JobId = job, Step = step });
            }
            while ((await balancers.Ask<CurrentQ>(new GetQ(job, 0), TimeSpan.FromSeconds(60))).Step < stepCount)
                await Task.Delay(5);
            actor.Stop();
            return (merge.Elapsed, actor.Elapsed);
        }

        // Warmed up first, as in Latency (tiered compilation): from a cold start both figures were half to two
        // thirds of a running balancer's.
        await Measure("bench-warm-up", warmUpSteps);
        var (mergeTime, actorTime) = await Measure("bench", steps);

        var summaries = steps * trainers;
        var sent = variants.SelectMany(v => v).ToList();
        Console.WriteLine($"Balancer throughput, m = {experts}, K = {TopK}, read-out windows of {HistogramRange.Default.Bins} bins, {trainers} trainers of {TokensPerTrainer} tokens, {steps} steps after {warmUpSteps} to warm up, {Journal} journal:");
        Console.WriteLine($"  summary size: {sent.Average(s => s.Histogram.Length):N0} non-zero cells of {spec.HistogramLength:N0}, " +
            $"{sent.Average(s => Moe.Actors.Serialization.MoeCodecs.Registry.Write(s).Length):N0} bytes on the wire");
        Console.WriteLine($"  actor, persisted and published: {summaries / actorTime.TotalSeconds,10:N0} summaries/s ({steps / actorTime.TotalSeconds:N0} q/s)");
        Console.WriteLine($"  merge and read-out alone:       {summaries / mergeTime.TotalSeconds,10:N0} summaries/s");
        Console.WriteLine($"  actor / merge time:             {actorTime / mergeTime,10:F2}   (targets through the actor: at least 20,000 summaries/s at m = 64 with 4 trainers, 5,000 at m = 256 with 8)");
    }

    public static async Task Latency(string directory, int steps, int warmUpSteps)
    {
        // A job of its own per run: a PostgreSQL database or a balancer process kept from an earlier run holds the
        // last run's steps, and would ignore this run's as stale.
        var job = $"latency-{Guid.NewGuid():N}";
        var summary = Summaries(variants: 1, DefaultExperts, DefaultTrainers)[0][0] with { JobId = job, Contributors = 1 };
        // MOE_BENCH_SEED=HOST:PORT: the balancer's node is another process (e.g. Cluster.Host node --roles
        // balancer,coordinator), so the two nodes share no thread pool and no garbage collector.
        var otherProcess = Environment.GetEnvironmentVariable("MOE_BENCH_SEED") is { Length: > 0 } address ? address : null;
        await using var seed = otherProcess is null ? await BenchNodes.StartAsync(Settings(directory, "latency-a", NodeRoles.Balancer, NodeRoles.Coordinator)) : null;
        await using var trainerNode = await BenchNodes.StartAsync(Settings(directory, "latency-b", NodeRoles.Trainer) with
        {
            Seeds = [otherProcess ?? $"127.0.0.1:{seed!.Port}"],
            Trainer = new Moe.Actors.Training.TrainerSettings { Count = 1 },
        });
        var balancers = trainerNode.Registry.Get<LayerBalancerRegion>();
        await balancers.Ask<CurrentQ>(new ConfigureLayer(job, 0, SpecOf(DefaultExperts)), TimeSpan.FromSeconds(30));
        var arrivals = new System.Collections.Concurrent.BlockingCollection<(long Step, long Ticks)>();
        var probe = trainerNode.System.ActorOf(Props.Create(() => new Arrivals(arrivals)));
        await DistributedPubSub.Get(trainerNode.System).Mediator.Ask<SubscribeAck>(new Subscribe(BalancerTopics.For(job), probe), TimeSpan.FromSeconds(10));
        // The subscription reaches the balancer's node by gossip: wait until its mediator knows the topic.
        var seedMediator = seed is null
            ? (ICanTell)trainerNode.System.ActorSelection($"akka.tcp://moe@{otherProcess}/system/distributedPubSubMediator")
            : DistributedPubSub.Get(seed.System).Mediator;
        while (!(await seedMediator.Ask<CurrentTopics>(GetTopics.Instance, TimeSpan.FromSeconds(5))).Topics.Contains(BalancerTopics.For(job)))
            await Task.Delay(20);

        // MOE_BENCH_STAGES=1 also times q's arrival on the balancer's own node: what the summary's trip and the
        // journal cost, apart from q's trip back.
        var local = new System.Collections.Concurrent.BlockingCollection<(long Step, long Ticks)>();
        var stages = seed is not null && Environment.GetEnvironmentVariable("MOE_BENCH_STAGES") == "1";
        if (stages)
            await seedMediator.Ask<SubscribeAck>(new Subscribe(BalancerTopics.For(job), seed!.System.ActorOf(Props.Create(() => new Arrivals(local)))), TimeSpan.FromSeconds(10));

        // One summary, then its q: the latency, whether a gen0 collection ran meanwhile, and (stages) q's arrival at
        // the balancer's node.
        (double Ms, bool Collected, double AtBalancer) Step(int step)
        {
            var collections = GC.CollectionCount(0);
            var sent = Stopwatch.GetTimestamp();
            balancers.Tell(summary with { Step = step });
            if (!arrivals.TryTake(out var arrived, TimeSpan.FromSeconds(10)))
                throw new TimeoutException($"No q of step {step} within 10 s.");
            var (arrivedStep, ticks) = arrived;
            if (arrivedStep != step)
                throw new InvalidOperationException($"Expected q of step {step}, got {arrivedStep}.");
            var atBalancer = stages && local.Take() is var (_, localTicks) ? Stopwatch.GetElapsedTime(sent, localTicks).TotalMilliseconds : double.NaN;
            return (Stopwatch.GetElapsedTime(sent, ticks).TotalMilliseconds, GC.CollectionCount(0) != collections, atBalancer);
        }

        // The runtime runs new code unoptimised at first and recompiles what is hot in the background (tiered
        // compilation, with profile-guided optimisation): for the first thousands of steps the path is slower and
        // the JIT takes CPU beside it. A long job spends nearly all its time past that; this measures it.
        var warmUp = Stopwatch.StartNew();
        for (var step = 0; step < warmUpSteps; step++)
            Step(step);
        warmUp.Stop();
        var samples = new List<(double Ms, int Step, bool Collected, double AtBalancer)>();
        var (gen0, gen1, gen2, paused) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration());
        var allocated = GC.GetTotalAllocatedBytes();
        for (var step = warmUpSteps; step < warmUpSteps + steps; step++)
        {
            var (ms, collected, atBalancer) = Step(step);
            samples.Add((ms, step, collected, atBalancer));
        }
        var latencies = samples.Select(s => s.Ms).ToList();
        Console.WriteLine($"Summary -> persisted q -> trainer node, 2-node loopback cluster ({(seed is null ? "2 processes" : "1 process")}), {Journal} journal, m = {DefaultExperts}, {steps} steps after {warmUpSteps} to warm up ({warmUp.Elapsed.TotalSeconds:F1} s):");
        Console.WriteLine($"  garbage collections of this process ({(seed is null ? "the trainer's node" : "both nodes")}): gen0 {GC.CollectionCount(0) - gen0}, gen1 {GC.CollectionCount(1) - gen1}, gen2 {GC.CollectionCount(2) - gen2}; paused {(GC.GetTotalPauseDuration() - paused).TotalMilliseconds:F1} ms; allocated {(GC.GetTotalAllocatedBytes() - allocated) / 1024.0 / steps:N0} KiB per step");
        Console.WriteLine($"  slowest steps: {string.Join(", ", samples.OrderByDescending(s => s.Ms).Take(12).Select(s => $"{s.Step}: {s.Ms:F1} ms{(s.Collected ? " (GC)" : "")}"))}");
        // A collection may end after q arrived and still count here: this splits off at most the steps this process's
        // collections could have slowed.
        Console.WriteLine($"  steps with no collection ({samples.Count(s => !s.Collected)}): {Percentiles([.. samples.Where(s => !s.Collected).Select(s => s.Ms)])}");
        if (stages)
        {
            Console.WriteLine($"  q on the balancer's node: {Percentiles([.. samples.Select(s => s.AtBalancer)])}");
            Console.WriteLine($"  then to the trainer node: {Percentiles([.. samples.Select(s => s.Ms - s.AtBalancer)])}");
        }
        Console.WriteLine($"  {Percentiles(latencies)}   max {latencies.Max():F2} ms   (target: p99 under 5 ms)");
    }

    private static string Percentiles(List<double> samples)
    {
        var sorted = samples.Order().ToList();
        double At(double p) => sorted[(int)Math.Min(sorted.Count - 1, Math.Ceiling(p * sorted.Count) - 1)];
        return $"p50 {At(0.50):F2} ms   p90 {At(0.90):F2} ms   p99 {At(0.99):F2} ms";
    }

    /// <summary>The balancer's node alone, until SIGTERM or Ctrl-C (an idle node still took 5 % of a core here).</summary>
    public static async Task Seed(string directory, int port)
    {
        var stop = new TaskCompletionSource();
        void Stop(PosixSignalContext signal)
        {
            signal.Cancel = true; // leave through the node's shutdown below
            stop.TrySetResult();
        }
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        await using var seed = await BenchNodes.StartAsync(Settings(directory, "latency-a", NodeRoles.Balancer, NodeRoles.Coordinator), port: port);
        Console.WriteLine($"Balancer node up on 127.0.0.1:{seed.Port}; SIGTERM or Ctrl-C stops it");
        await stop.Task;
    }

    /// <summary>SQLite in the bench folder, or the PostgreSQL server that MOE_BENCH_POSTGRES names.</summary>
    private static NodeSettings Settings(string directory, string name, params string[] roles) => new()
    {
        DataDirectory = Path.Combine(directory, name),
        Roles = roles,
        Trainer = new Moe.Actors.Training.TrainerSettings { Count = 1 },
        Balancer = Environment.GetEnvironmentVariable("MOE_BENCH_SNAPSHOT_EVERY") is { Length: > 0 } every
            ? new BalancerSettings { SnapshotEvery = int.Parse(every, System.Globalization.CultureInfo.InvariantCulture) }
            : new BalancerSettings(),
        Persistence = Environment.GetEnvironmentVariable("MOE_BENCH_POSTGRES") is { Length: > 0 } postgres
            ? new PersistenceSettings { Provider = PersistenceProvider.PostgreSql, ConnectionString = postgres }
            : new PersistenceSettings { ConnectionString = $"Data Source={Path.Combine(directory, "cluster.db")}" },
    };

    private static string Journal => Environment.GetEnvironmentVariable("MOE_BENCH_POSTGRES") is { Length: > 0 } ? "PostgreSQL" : "SQLite (WAL)";

    /// <summary>
    /// Real summaries: softmax scores of skewed logits, p from a BIP solve, one histogram per trainer, binned as a
    /// job bins them once its windows have settled: with a read-out window around the batch's quantiles.
    /// </summary>
    private static StepSummary[][] Summaries(int variants, int experts, int trainers)
    {
        var range = SpecOf(experts).Range;
        var result = new StepSummary[variants][];
        for (var v = 0; v < variants; v++)
        {
            using var scope = NewDisposeScope();
            manual_seed(v);
            var skew = KeptScalars.Indices(experts, CPU).to(ScalarType.Float32).Times(-3.2f / experts);
            var scores = Scoring.Scores(randn(TokensPerTrainer * trainers, experts).Plus(skew), ScoreFunction.Softmax);
            var q = DualBalancing.Solve(scores, zeros(experts), TopK, 4, clip: true);
            var p = DualBalancing.TokenPrices(scores, q, TopK, clip: true);
            var window = ReadoutWindow.Fixed(range, experts);
            for (var k = 0; k < 6; k++)
            {
                var whole = ExpertHistogram.Build(scores, p, window);
                window = window.Next(0, whole, whole.ReadOut(TopK), DualBalancing.Capacity(whole.Tokens, experts, TopK));
            }
            result[v] = [.. Enumerable.Range(0, trainers).Select(t =>
            {
                var s = scores.narrow(0, t * TokensPerTrainer, TokensPerTrainer);
                var histogram = ExpertHistogram.Build(s, p.narrow(0, t * TokensPerTrainer, TokensPerTrainer), window);
                var loads = (s - q).topk(TopK).indexes.flatten().bincount(null, experts).data<long>().ToArray();
                return new StepSummary("bench", 0, $"trainer-{t}", 0, trainers, TokensPerTrainer, loads, histogram.ToSparse()) { Window = window };
            })];
        }
        return result;
    }

    private sealed class Arrivals : ReceiveActor
    {
        public Arrivals(System.Collections.Concurrent.BlockingCollection<(long, long)> arrivals) =>
            Receive<QPublished>(q => arrivals.Add((q.Step, Stopwatch.GetTimestamp())));
    }
}
