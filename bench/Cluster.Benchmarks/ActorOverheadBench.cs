using System.Diagnostics;
using Akka.Actor;
using Moe.Actors.Hosting;
using Moe.Actors.Training;
using Moe.Model.Data;
using Moe.Model.Network;
using Moe.Model.Training;

namespace Moe.Benchmarks;

/// <summary>
/// What the actor layer costs: tokens/s of one trainer in a one-node cluster (summaries to the balancers, q
/// published back, rounds with blobs and the outer step) against the plain training loop on the same preset and
/// data, measured in this one process, one after the other. Only steady-state rounds count (after round 1).
/// </summary>
internal static class ActorOverheadBench
{
    public static async Task Run(string directory, string presetName, int rounds, int innerSteps)
    {
        var preset = ModelPresets.Get(presetName);
        var data = Corpus.Load(null, Path.Combine(directory, "cache"), preset.Model.VocabSize, _ => { });
        var steps = rounds * innerSteps;

        var plainBefore = OnOwnThread(() => Plain(preset, data, steps, innerSteps, summaries: false));
        var summarised = OnOwnThread(() => Plain(preset, data, steps, innerSteps, summaries: true));

        await using var node = await BenchNode.StartAsync(new NodeSettings
        {
            DataDirectory = Path.Combine(directory, "node"),
            Trainer = new TrainerSettings { Count = 1, Device = "cpu" },
        });
        var coordinator = node.Registry.Get<TrainingCoordinatorKey>();
        var job = new JobSpec { JobId = "overhead", Preset = presetName, Rounds = rounds, InnerSteps = innerSteps, OuterLearningRate = 1, OuterMomentum = 0 };
        // The corpus is already cached under the node's folder: both runs read the same tokens.
        Directory.CreateDirectory(Path.Combine(directory, "node"));
        CopyDirectory(Path.Combine(directory, "cache"), Path.Combine(directory, "node", "cache"));
        JobStatus status = await AskUntil(coordinator, new StartJob(job), _ => true);
        status = await AskUntil(coordinator, GetJobStatus.Instance, s => s.CommittedRounds >= 1);
        var clock = Stopwatch.StartNew();
        var firstRound = status.CommittedRounds;
        status = await AskUntil(coordinator, GetJobStatus.Instance, s => s.Finished);
        var cluster = (double)(status.CommittedRounds - firstRound) * innerSteps * preset.Training.BatchSize * preset.Model.ContextLength / clock.Elapsed.TotalSeconds;
        await node.DisposeAsync();
        var plainAfter = OnOwnThread(() => Plain(preset, data, steps, innerSteps, summaries: false));
        var plain = (plainBefore + plainAfter) / 2;

        Console.WriteLine($"{presetName}, {rounds} rounds x {innerSteps} steps, one trainer, {Environment.ProcessorCount} libtorch threads:");
        Console.WriteLine($"  plain training loop, before: {plainBefore,10:N0} tokens/s");
        Console.WriteLine($"  plain loop + summaries:      {summarised,10:N0} tokens/s (the histogram of s - p per layer and step)");
        Console.WriteLine($"  one-node cluster (train):    {cluster,10:N0} tokens/s, including summaries, q, blobs and the outer step");
        Console.WriteLine($"  plain training loop, after:  {plainAfter,10:N0} tokens/s");
        Console.WriteLine($"  cluster / plain (mean of before and after): {cluster / plain:F3}   (target: within 5 %, i.e. >= 0.95)");
    }

    /// <summary>
    /// Runs on a thread that ends afterwards, as a trainer's compute thread would: its OpenMP team goes with it and
    /// does not slow the next phase (see ComputeThread).
    /// </summary>
    private static double OnOwnThread(Func<double> measure)
    {
        var result = 0.0;
        var thread = new Thread(() =>
        {
            TorchSharp.torch.set_num_threads(Environment.ProcessorCount);
            result = measure();
        });
        thread.Start();
        thread.Join();
        return result;
    }

    /// <summary>Tokens/s of the plain loop on the calling thread, optionally with the balancing summaries on.</summary>
    private static double Plain(ModelPresets.Preset preset, TokenDataset data, int steps, int innerSteps, bool summaries)
    {
        using var loop = new TrainingLoop(preset.Model, preset.Training with { Steps = steps }, data);
        if (summaries)
        {
            foreach (var layer in loop.Model.MoeLayers)
                layer.SummaryRange = Moe.Model.Balancing.HistogramRange.Default;
        }
        for (var warm = 0; warm < innerSteps; warm++)
            loop.TrainStep();
        var watch = Stopwatch.StartNew();
        long tokens = 0;
        for (var step = 0; step < steps - innerSteps; step++)
            tokens += loop.TrainStep().Tokens;
        return tokens / watch.Elapsed.TotalSeconds;
    }

    private static async Task<JobStatus> AskUntil(IActorRef coordinator, object message, Func<JobStatus, bool> done)
    {
        while (true)
        {
            try
            {
                if (await coordinator.Ask<object>(message, TimeSpan.FromSeconds(10)) is JobStatus status && done(status))
                    return status;
            }
            catch (AskTimeoutException)
            {
            }
            await Task.Delay(20);
        }
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
    }
}
