using System.Diagnostics;
using System.Globalization;
using Moe.Actors.Blobs;
using Moe.Actors.Hosting;
using Moe.Actors.Training;
using Moe.Testing;

namespace Moe.Benchmarks;

/// <summary>
/// `train` of the tiny preset as a real process, under a seeded chaos loop: every few seconds it is SIGKILLed and
/// started again, and some of the times the newest checkpoint's parameters are damaged on disk before the restart.
/// Once the faults are done the job runs to its end; then the journal and the final report must hold every round
/// exactly once, and every damaged checkpoint must have been recovered from an older one.
/// </summary>
internal static class SoakBench
{
    public static async Task<int> Run(string directory, int faults, int rounds, int seed)
    {
        var random = new Random(seed);
        var data = Path.Combine(directory, "data");
        var text = SampleText.Write(directory, sentences: 4000);
        var host = Path.Combine(AppContext.BaseDirectory, "Cluster.Host.dll");
        var log = Path.Combine(directory, "train.log");
        var store = new DirectoryBlobStore(Path.Combine(data, "blobs"));
        int kills = 0, damages = 0, starts = 0, lastDamaged = -1;
        var clock = Stopwatch.StartNew();
        Console.WriteLine($"soak: seed {seed}, {faults} faults, tiny preset, {rounds} rounds; data in {data}, log in {log}");

        int code;
        while (true)
        {
            using var train = Start(host, text, data, rounds, log);
            starts++;
            var exited = train.WaitForExitAsync();
            var done = kills + damages >= faults;
            var after = TimeSpan.FromSeconds(random.Next(3, 9)); // drawn every time, so a seed gives one schedule
            if (done || await Task.WhenAny(exited, Task.Delay(after)) == exited)
            {
                await exited;
                code = train.ExitCode;
                if (code != 0 || done)
                    break;
                Console.WriteLine($"  the job finished after {kills + damages} faults, before the {faults} asked for: give more rounds");
                break;
            }
            train.Kill(entireProcessTree: true);
            await exited;
            var history = await Read(data);
            var newest = history?.Rounds is [.., var last] ? last : null;
            // One damaged checkpoint per committed round: the one kept before it must still be whole to go back to.
            if (newest is not null && newest.Round > lastDamaged && random.NextDouble() < 0.5)
            {
                Damage(store.PathOf(newest.Parameters));
                lastDamaged = newest.Round;
                damages++;
            }
            else
            {
                kills++;
            }
            if ((kills + damages) % 10 == 0)
                Console.WriteLine($"  {kills + damages} faults at {clock.Elapsed:mm\\:ss}: {history?.Rounds.Count ?? 0} rounds committed");
        }

        var final = await Read(data) ?? throw new InvalidOperationException("no job was recorded");
        var committed = final.Rounds.Select(r => r.Round).ToList();
        var reported = ReportedRounds(Path.Combine(data, "reports", "train-tiny", "rounds.csv"));
        var exactlyOnce = committed.SequenceEqual(Enumerable.Range(0, rounds)) && reported.SequenceEqual(committed);
        Console.WriteLine($"faults {kills + damages} (SIGKILL {kills}, SIGKILL and a damaged newest checkpoint {damages}) in {clock.Elapsed:mm\\:ss}");
        Console.WriteLine($"process starts {starts}, last exit code {code}");
        Console.WriteLine($"rounds committed {committed.Count} of {rounds}; recoveries from an older round {final.Rollbacks.Count}; quarantined blobs {Quarantined(store)}");
        Console.WriteLine($"final report has every round exactly once: {(exactlyOnce ? "yes" : "NO")}");
        return code == 0 && exactlyOnce && final.Rollbacks.Count == damages ? 0 : 1;
    }

    private static Process Start(string host, string text, string data, int rounds, string log)
    {
        var start = new ProcessStartInfo("sh") { RedirectStandardOutput = false, RedirectStandardError = false };
        // Through a shell only to append both streams to the log; exec keeps the process id the dotnet one.
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"exec dotnet '{host}' train --preset tiny --rounds {rounds} --inner-steps 4 --trainers 1 --text '{text}' --data-dir '{data}' >>'{log}' 2>&1");
        return Process.Start(start)!;
    }

    private static async Task<JobHistory?> Read(string data)
    {
        try
        {
            return await JobRecords.ReadAsync(new NodeSettings { DataDirectory = data }, CancellationToken.None);
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
        {
            return null; // killed before the job was recorded
        }
    }

    private static void Damage(string path)
    {
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(path, bytes);
    }

    private static int Quarantined(DirectoryBlobStore store) =>
        Directory.Exists(store.QuarantineFolder) ? Directory.GetFiles(store.QuarantineFolder).Length : 0;

    private static List<int> ReportedRounds(string csv) => File.Exists(csv)
        ? [.. File.ReadLines(csv).Skip(1).Select(l => int.Parse(l.Split(',')[0], CultureInfo.InvariantCulture))]
        : [];
}
