using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Moe.Benchmarks;
using Moe.Model.Training.Rounds;

switch (args)
{
    case ["memory", ..]:
        TrainingBench.Memory(args.Length > 1 ? args[1] : "data");
        return;
    case ["throughput", var preset, ..]:
        TrainingBench.Throughput(preset, args.Length > 2 ? args[2] : "data", steps: 20);
        return;
    case ["balancer", ..]:
        await BalancerBench.Throughput(BenchDirectory(), steps: args.Length > 1 && !args[1].StartsWith('-') ? int.Parse(args[1]) : 5000,
            warmUpSteps: args.Length > 2 && !args[2].StartsWith('-') ? int.Parse(args[2]) : 9_000,
            experts: int.Parse(Option("--experts") ?? "64"), trainers: int.Parse(Option("--trainers") ?? "4"));
        return;
    case ["blobs", ..]:
        await BlobBench.Run(BenchDirectory(), args.Length > 1 ? args[1] : "small-16e", repeats: 7);
        return;
    case ["recovery", ..]:
        await RecoveryBench.Run(BenchDirectory());
        return;
    case ["quantile-precision", ..]:
        QuantilePrecisionBench.Run(warmUpSteps: int.Parse(Option("--warm-up") ?? "12"), steps: int.Parse(Option("--steps") ?? "8"));
        return;
    case ["kill-trainer", ..]:
        await KillTrainerBench.Run(BenchDirectory(), args.Length > 1 && !args[1].StartsWith('-') ? args[1] : "tiny", processes: args.Contains("--processes"));
        return;
    case ["actor-overhead", ..]:
        await ActorOverheadBench.Run(BenchDirectory(), args.Length > 1 ? args[1] : "small-16e",
            innerSteps: args.Length > 2 ? int.Parse(args[2]) : 10, rounds: args.Length > 3 ? int.Parse(args[3]) : 6,
            cycles: args.Length > 4 ? int.Parse(args[4]) : 3, overlap: args.Length > 5 ? args[5] : "on");
        return;
    case ["soak", ..]:
        Environment.ExitCode = await SoakBench.Run(BenchDirectory(), faults: args.Length > 1 ? int.Parse(args[1]) : 50,
            rounds: args.Length > 2 ? int.Parse(args[2]) : 1500, seed: args.Length > 3 ? int.Parse(args[3]) : 1);
        return;
    case ["step-profile", ..] when Option("--iterations") is { } iterations:
        StepProfileBench.Iterations(args.Length > 1 && !args[1].StartsWith('-') ? args[1] : "small-64e", Option("--device") ?? "auto",
            alternations: int.Parse(Option("--alternations") ?? "7"), Option("--data-dir") ?? "data", [.. iterations.Split(',').Select(int.Parse)]);
        return;
    case ["step-profile", ..]:
        StepProfileBench.Run(args.Length > 1 && !args[1].StartsWith('-') ? args[1] : "small-64e", Option("--device") ?? "auto",
            alternations: int.Parse(Option("--alternations") ?? "7"), Option("--data-dir") ?? "data");
        return;
    case ["round-data-node", var index, var floats, var store, var directory]: // a trainer node of `round-data`
        await RoundDataBench.Node(int.Parse(index), long.Parse(floats), store, directory);
        return;
    case ["round-data", ..]:
        await RoundDataBench.Run(long.Parse(Option("--floats") ?? "25000000"), [.. (Option("--trainers") ?? "1,2,4,8").Split(',').Select(int.Parse)],
            Option("--store") ?? "directory", Option("--delta-precision") == "bf16" ? DeltaPrecision.Bf16 : DeltaPrecision.Fp32, int.Parse(Option("--rounds") ?? "3"));
        return;
    case ["scalar-lifetime", ..]:
        ScalarLifetimeBench.Run(TimeSpan.FromSeconds(int.Parse(Option("--seconds") ?? "20")));
        return;
    case ["openmp-teams"]:
        OpenMpTeamsBench.Run();
        return;
    case ["latency-seed", var port]: // the balancer's node of `latency` in a process of its own (MOE_BENCH_SEED)
        await BalancerBench.Seed(BenchDirectory(), int.Parse(port));
        return;
    case ["latency", ..]:
        await BalancerBench.Latency(BenchDirectory(), steps: args.Length > 1 ? int.Parse(args[1]) : 2000, warmUpSteps: args.Length > 2 ? int.Parse(args[2]) : 5000);
        return;
}

// In-process: the generated benchmark project would not carry our libtorch fix, and one process keeps every
// method of a case side by side on the same machine state.
var config = ManualConfig.Create(DefaultConfig.Instance)
    .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
    .WithOptions(ConfigOptions.JoinSummary);
BenchmarkSwitcher.FromAssembly(typeof(RoutingBenchmarks).Assembly).Run(args, config);

string? Option(string name) => Array.IndexOf(args, name) is var at and >= 0 && at + 1 < args.Length ? args[at + 1] : null;

static string BenchDirectory() =>
    Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "moe-bench-" + Guid.NewGuid().ToString("N")[..8])).FullName;
