using System.Diagnostics;
using Akka.Actor;
using Moe.Actors.Hosting;
using Moe.Actors.Training;
using Moe.Model.Balancing;
using Moe.Model.Data;
using Moe.Model.Network;
using Moe.Model.Training;
using Moe.Model.Training.Rounds;
using Moe.Testing;

namespace Moe.Benchmarks;

/// <summary>
/// What the actor layer costs: tokens/s of one trainer in a one-node cluster (summaries to the balancers, q
/// published back, rounds with blobs and the outer step) against the plain training loop on the same preset and
/// data, in this one process. This machine's speed drifts by up to 10 % within minutes, so the two alternate:
/// plain, cluster, plain, cluster, ..., plain, and each cluster segment is compared with the plain segments on
/// either side of it. Only a job's steady-state rounds count (after round 0, which builds the model). The journal
/// then splits the cluster's time into the trainer's steps and the round boundary: the time from one commit to the
/// next that the trainer did not spend stepping (with overlapped rounds, what of the commit it still waits for).
/// Jobs overlap their rounds ("on"), do not ("off"), or alternate ("both", the first overlapping). The process's CPU
/// time splits a job's ratio once more: CPU per token against the plain loop's, cores kept busy (what the actor layer
/// leaves idle), and the CPU of every thread but the trainer's against the trainer's (the work the actor layer adds,
/// measured in the job itself and so free of the machine's drift).
/// </summary>
internal static class ActorOverheadBench
{
    public static async Task Run(string directory, string presetName, int rounds, int innerSteps, int cycles, string overlap)
    {
        if (overlap is not ("on" or "off" or "both"))
            throw new ArgumentException($"overlap = {overlap} is invalid: use on, off or both.");
        var preset = ModelPresets.Get(presetName);
        var data = Corpus.Load(null, Path.Combine(directory, "cache"), preset.Model.VocabSize, _ => { });
        var plainSteps = (rounds - 1) * innerSteps;
        // Sampling costs about half a percent of a core, which the trainer's OpenMP threads feel more than that, so
        // it runs through the plain runs too: both sides of each ratio pay for it.
        using var cpu = new CpuSampler();

        var plain = new List<Measured> { OnOwnThread(() => Plain(preset, data, plainSteps, innerSteps, summaries: false)) };
        var summarised = OnOwnThread(() => Plain(preset, data, plainSteps, innerSteps, summaries: true)).TokensPerSecond;
        var segments = new List<Segment>();
        for (var cycle = 0; cycle < cycles; cycle++)
        {
            var overlapped = overlap == "on" || (overlap == "both" && cycle % 2 == 0);
            segments.Add(await Cluster(Path.Combine(directory, $"node-{cycle}"), Path.Combine(directory, "cache"), presetName, rounds, innerSteps, overlapped, cpu));
            plain.Add(OnOwnThread(() => Plain(preset, data, plainSteps, innerSteps, summaries: false)));
        }

        Console.WriteLine($"{presetName}, H = {innerSteps}, {cycles} cluster jobs of {rounds} rounds (the first not counted) between {cycles + 1} plain runs of {plainSteps} steps; one trainer, {Environment.ProcessorCount} libtorch threads:");
        Console.WriteLine($"  plain loop + summaries (once, after the first plain run): {summarised:N0} tokens/s = {summarised / plain[0].TokensPerSecond:F3} of it");
        var ratios = new List<double>();
        for (var k = 0; k < segments.Count; k++)
        {
            var segment = segments[k];
            var around = (plain[k].TokensPerSecond + plain[k + 1].TokensPerSecond) / 2;
            var (cpuAround, busyAround) = ((plain[k].CpuPerToken + plain[k + 1].CpuPerToken) / 2, (plain[k].Busy + plain[k + 1].Busy) / 2);
            ratios.Add(segment.Job.TokensPerSecond / around);
            Console.WriteLine($"  plain {plain[k].TokensPerSecond,6:N0} | cluster ({(segment.Overlapped ? "overlapped" : "sequential")}) {segment.Job.TokensPerSecond,6:N0} tokens/s, steps alone {segment.StepTokensPerSecond,6:N0} | plain {plain[k + 1].TokensPerSecond,6:N0}" +
                $"  ->  cluster / plain {segment.Job.TokensPerSecond / around:F3}, steps / plain {segment.StepTokensPerSecond / around:F3}, round boundary {segment.BoundarySeconds * 1000:F0} ms per round ({segment.BoundaryShare:P1})," +
                $" CPU per token / plain {segment.Job.CpuPerToken / cpuAround:F3} (the trainer's threads alone {segment.TrainerCpuPerToken / cpuAround:F3}), cores busy {segment.Job.Busy:F2} (plain {busyAround:F2}), other threads / trainer's {segment.OtherCpuShare:P1}");
        }
        foreach (var group in segments.Select((s, k) => (Segment: s, Ratio: ratios[k])).GroupBy(s => s.Segment.Overlapped))
        {
            var sorted = group.Select(s => s.Ratio).Order().ToList();
            Console.WriteLine($"  cluster ({(group.Key ? "overlapped" : "sequential")}) / plain: median {Median(sorted):F3}, range {sorted[0]:F3} to {sorted[^1]:F3}   (target: within 5 %, i.e. >= 0.95)");
            // The machine's drift moves the ratios, not these two: what the actor layer takes, measured in the job itself.
            var (boundary, other) = (Median(group.Select(s => s.Segment.BoundaryShare)), Median(group.Select(s => s.Segment.OtherCpuShare)));
            Console.WriteLine($"    the actor layer's own cost, free of the drift (medians): round boundary {boundary:P1} of the job + other threads' CPU {other:P1} of the trainer's = {boundary + other:P1}" +
                " (if the trainer lost exactly the CPU the other threads took; preempting one of its OpenMP threads can cost it more)");
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>Tokens/s, CPU seconds per token and cores kept busy (CPU seconds per second) over a stretch of training.</summary>
    private sealed record Measured(double TokensPerSecond, double CpuPerToken, double Busy)
    {
        public static Measured Of(long tokens, double seconds, double cpuSeconds) => new(tokens / seconds, cpuSeconds / tokens, cpuSeconds / seconds);
    }

    /// <param name="OtherCpuShare">CPU of all threads but the trainer's (less the sampler's own) / the trainer's threads' CPU.</param>
    private sealed record Segment(bool Overlapped, Measured Job, double StepTokensPerSecond, double BoundarySeconds, double BoundaryShare, double OtherCpuShare, double TrainerCpuPerToken);

    /// <summary>One job on a fresh one-node cluster: tokens/s over its steady-state rounds, and where the time went.</summary>
    private static async Task<Segment> Cluster(string nodeDirectory, string cache, string presetName, int rounds, int innerSteps, bool overlap, CpuSampler cpu)
    {
        var settings = new NodeSettings
        {
            DataDirectory = nodeDirectory,
            Trainer = new TrainerSettings { Count = 1, Device = "cpu" },
            // MOE_BENCH_HANDOFF=off sends every delta and parameter read through the blob store.
            Blobs = new Moe.Actors.Blobs.BlobStoreSettings { LocalHandoff = Environment.GetEnvironmentVariable("MOE_BENCH_HANDOFF") != "off" },
        };
        // The corpus is already cached: the cluster reads the same tokens as the plain loop.
        CopyDirectory(cache, Path.Combine(nodeDirectory, "cache"));
        await using (var node = await BenchNodes.StartAsync(settings))
        {
            var coordinator = node.Registry.Get<TrainingCoordinatorKey>();
            var job = new JobSpec { JobId = "overhead", Preset = presetName, Rounds = rounds, InnerSteps = innerSteps, OuterLearningRate = 1, OuterMomentum = 0, OverlapSteps = overlap ? 1 : 0 };
            await AskUntil(coordinator, new StartJob(job), _ => true);
            await AskUntil(coordinator, GetJobStatus.Instance, s => s.Finished);
        }
        // Timed by the journal, from the first commit to the last: polling the coordinator often enough to time
        // the job from outside took CPU from the trainer it measures.
        var all = (await JobRecords.ReadAsync(settings, CancellationToken.None)).Rounds;
        var steady = all.Skip(1).ToList();
        var intervals = steady.Select((r, k) => (r.CommittedAt - all[k].CommittedAt).TotalSeconds).ToList(); // commit to commit
        var steps = steady.Sum(r => r.Parts.Sum(p => p.StepSeconds));
        var boundary = steady.Select((r, k) => intervals[k] - r.Parts.Max(p => p.StepSeconds + p.WaitSeconds)).Sum();
        var tokens = steady.Sum(r => r.Tokens);
        var (cpuSeconds, trainerSeconds, sampling) = cpu.CpuSeconds(all[0].CommittedAt, all[^1].CommittedAt);
        var measured = Measured.Of(tokens, intervals.Sum(), cpuSeconds);
        return new Segment(overlap, measured, tokens / steps, boundary / steady.Count, boundary / intervals.Sum(), (cpuSeconds - trainerSeconds - sampling) / trainerSeconds, trainerSeconds / tokens);
    }

    /// <summary>
    /// Runs on a thread that ends afterwards, as a trainer's compute thread would: its OpenMP team goes with it and
    /// does not slow the next phase (see ComputeThread).
    /// </summary>
    private static Measured OnOwnThread(Func<Measured> measure)
    {
        Measured? result = null;
        var thread = new Thread(() =>
        {
            TorchSharp.torch.set_num_threads(Environment.ProcessorCount);
            result = measure();
        });
        thread.Start();
        thread.Join();
        return result!;
    }

    /// <summary>The plain loop on the calling thread, optionally with the balancing summaries on.</summary>
    private static Measured Plain(ModelPresets.Preset preset, TokenDataset data, int steps, int innerSteps, bool summaries)
    {
        using var loop = new TrainingLoop(preset.Model, preset.Training with { Steps = steps }, data);
        Action<IReadOnlyList<LayerRouting>>? summarise = summaries
            ? routing => LayerSummary.Of(routing, [.. routing.Select(l => ReadoutWindow.Fixed(HistogramRange.Default, (int)l.Scores.shape[1]))], clipPrices: true)
            : null;
        for (var warm = 0; warm < innerSteps; warm++)
            loop.TrainStep(summarise);
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        long tokens = 0;
        for (var step = 0; step < steps - innerSteps; step++)
            tokens += loop.TrainStep(summarise).Tokens;
        var seconds = watch.Elapsed.TotalSeconds;
        process.Refresh();
        return Measured.Of(tokens, seconds, (process.TotalProcessorTime - cpuBefore).TotalSeconds);
    }

    private static Task<object> AskUntil(IActorRef coordinator, object message, Func<JobStatus, bool> done) =>
        Eventually.Answer<object, AskTimeoutException>(() => coordinator.Ask<object>(message, TimeSpan.FromSeconds(10)),
            answer => answer is JobStatus status && done(status), TimeSpan.FromHours(1), $"the job's status after {message.GetType().Name}");

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
    }
}
