using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Moe.Actors.Blobs;
using Moe.Actors.Training;
using Moe.Actors.Training.Slices;
using Moe.Model.Devices;
using Moe.Model.Training;
using Moe.Model.Training.Rounds;
using static TorchSharp.torch;

namespace Moe.Benchmarks;

/// <summary>
/// The bytes a round moves through each node, and how long its data path takes, with the central outer step and the
/// sliced one side by side. Each trainer node is a process of its own on loopback that reads the global parameters
/// and stores a delta (random, of the parameters' size) as a trainer does, and owns one slice as a slice owner
/// does, with the production code of both (<see cref="ParameterBlobs"/>, <see cref="SliceStepWork"/>); this process
/// is the coordinator and runs <see cref="OuterStepWork"/> or <see cref="SlicedOuterStep"/>. Only the transport of
/// the small messages differs: lines on the nodes' standard input and output instead of Akka remoting. Every
/// process counts the blob bytes it reads and writes; the last of the rounds is reported (the first ones fill the
/// owners' caches and the momentum).
/// </summary>
internal static class RoundDataBench
{
    private const string Reply = "@@ ";
    private const int Tensors = 64;

    public static async Task Run(long floats, int[] trainerCounts, string store, DeltaPrecision precision, int rounds)
    {
        var directory = Path.Combine(Path.GetTempPath(), "moe-round-data-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = StoreSettings(store, directory);
        var modelBytes = floats * sizeof(float);
        Console.WriteLine($"round-data: {floats:N0} floats ({modelBytes / 1e6:F0} MB) in {Tensors} tensors, {store} store, deltas as {precision}, " +
            $"round {rounds} of {rounds} reported, {Environment.ProcessorCount} cores");
        (string Name, int Slices, double Momentum)[] modes = [("central", 0, 0.9), ("sliced", -1, 0.9), ("sliced", -1, 0)];
        foreach (var n in trainerCounts)
        {
            foreach (var (name, slices, momentum) in modes)
            {
                var spec = new JobSpec
                {
                    JobId = $"bench-{n}-{name}-{momentum}",
                    OuterLearningRate = momentum > 0 ? 0.7 : 1,
                    OuterMomentum = momentum,
                    Slices = slices < 0 ? n : 0,
                    DeltaPrecision = precision,
                };
                var (seconds, nodeBytes) = await Round(spec, n, floats, settings, directory, rounds);
                Console.WriteLine($"trainers={n} outer-step={name} momentum={momentum.ToString(CultureInfo.InvariantCulture)} " +
                    $"max-node-bytes/model-bytes={nodeBytes.Max() / (double)modelBytes:F2} round-seconds={seconds:F2} " +
                    $"(coordinator {nodeBytes[0] / (double)modelBytes:F2}, trainer nodes {string.Join(" ", nodeBytes.Skip(1).Select(b => (b / (double)modelBytes).ToString("F2", CultureInfo.InvariantCulture)))})");
            }
        }
        if (Directory.Exists(directory))
            Directory.Delete(directory, recursive: true);
    }

    /// <returns>The last round's seconds, and the bytes each node moved in it: the coordinator first.</returns>
    private static async Task<(double Seconds, long[] NodeBytes)> Round(JobSpec spec, int trainers, long floats, BlobStoreSettings settings, string directory,
        int rounds)
    {
        var store = new CountingStore(settings.Create(directory));
        var nodes = Enumerable.Range(0, trainers).Select(k => TrainerNode.Start(k, floats, settings, directory)).ToList();
        using var work = new OuterStepWork(store, handoff: null);
        var sliced = new SlicedOuterStep(store, async (step, _, token) => await nodes[step.Slice % trainers].Ask<SliceStepped>("step", step, token),
            _ => Timeout.InfiniteTimeSpan);
        try
        {
            BlobRef parameters;
            using (var initial = Random(floats, seed: 0, scale: 1))
                parameters = await ParameterBlobs.WriteAsync(store, spec, initial, "initial parameters", DeltaPrecision.Fp32, BlobDurability.Durable, CancellationToken.None);
            BlobRef? momentum = null;
            var last = (0.0, Array.Empty<long>());
            for (var round = 0; round < rounds; round++)
            {
                store.Reset();
                await Task.WhenAll(nodes.Select(n => n.Ask<long>("reset", null, CancellationToken.None)));
                var clock = Stopwatch.StartNew();
                var attempt = $"{round}";
                var deltas = await Task.WhenAll(nodes.Select(n => n.Ask<BlobRef>("delta", new DeltaRequest(parameters, attempt, spec.Slices ?? 0, spec.DeltaPrecision), CancellationToken.None)));
                var results = deltas.Select((d, k) => new RoundResult(spec.JobId, round, attempt, k, d, new PartStats($"t{k}", 0, 0, 0, 0, 0, [], 0))).ToList();
                var (next, nextMomentum) = spec.Sliced
                    ? await sliced.Step(spec, attempt, parameters, momentum, results, CancellationToken.None)
                    : await work.Step(spec, attempt, parameters, momentum, results, localReaders: 0, CancellationToken.None);
                var seconds = clock.Elapsed.TotalSeconds;
                var counted = await Task.WhenAll(nodes.Select(n => n.Ask<long>("bytes", null, CancellationToken.None)));
                last = (seconds, [store.Bytes, .. counted]);
                // What the coordinator would delete as the round commits (not counted: no bytes move).
                foreach (var old in deltas.Append(parameters).Append(momentum).OfType<BlobRef>())
                    await ParameterBlobs.DeleteAsync(store, spec, old, CancellationToken.None);
                (parameters, momentum) = (next, nextMomentum);
            }
            return last;
        }
        finally
        {
            foreach (var node in nodes)
                node.Dispose();
        }
    }

    /// <summary>A trainer node's process: answers the coordinator's lines until its input closes.</summary>
    public static async Task Node(int index, long floats, string store, string directory)
    {
        var blobs = new CountingStore(StoreSettings(store, directory).Create(directory));
        using var compute = new ComputeThread("slices", intraOpThreads: 1);
        using var owner = new SliceStepWork(blobs, compute);
        using var delta = Random(floats, seed: index + 1, scale: 1e-3f);
        while (Console.ReadLine() is { } line)
        {
            var request = JsonSerializer.Deserialize<Request>(line)!;
            object answer = request.Kind switch
            {
                "reset" => blobs.Reset(),
                "bytes" => blobs.Bytes,
                "delta" => await Delta(blobs, delta, request.Body.Deserialize<DeltaRequest>()!, index),
                "step" => await owner.Step(request.Body.Deserialize<StepSlice>()!, CancellationToken.None),
                _ => throw new ArgumentException($"Unknown request {request.Kind}."),
            };
            Console.WriteLine(Reply + JsonSerializer.Serialize(answer, answer.GetType()));
        }
    }

    // As a trainer: read every parameter, store the delta.
    private static async Task<BlobRef> Delta(IBlobStore blobs, ParameterSet delta, DeltaRequest request, int index)
    {
        var spec = new JobSpec { JobId = "bench", Slices = request.Slices };
        using var global = await ParameterBlobs.ReadAsync(blobs, spec, request.Parameters, "global parameters", CancellationToken.None);
        return await ParameterBlobs.WriteAsync(blobs, spec, delta, $"{request.Attempt} delta {index}", request.Precision, BlobDurability.Transient,
            CancellationToken.None);
    }

    private static ParameterSet Random(long floats, int seed, float scale)
    {
        using var generator = new Generator((ulong)seed + 1);
        var sizes = Enumerable.Range(0, Tensors).Select(k => (floats / Tensors) + (k < floats % Tensors ? 1 : 0));
        return new ParameterSet(sizes.Select((size, k) => new NamedTensor($"p{k}", randn([size], generator: generator).Times(scale))));
    }

    private static BlobStoreSettings StoreSettings(string store, string directory) => store switch
    {
        "directory" => new BlobStoreSettings { Directory = Path.Combine(directory, "blobs") },
        "s3" => new BlobStoreSettings
        {
            Kind = BlobStoreKind.S3,
            S3 = new S3BlobSettings
            {
                Bucket = "moe-test",
                Prefix = $"round-data/{Path.GetFileName(directory)}/",
                Endpoint = new Uri(Environment.GetEnvironmentVariable("MOE_TEST_S3")
                    ?? throw new ArgumentException("--store s3 needs MOE_TEST_S3 (the address .ci/s3 prints) and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.")),
                Region = "us-east-1",
                PathStyle = true,
                ChunkedUploads = false,
                ChecksumsWhenRequired = true,
            },
        },
        _ => throw new ArgumentException($"--store {store}: use directory or s3."),
    };

    private sealed record Request(string Kind, JsonElement Body);

    private sealed record DeltaRequest(BlobRef Parameters, string Attempt, int Slices, DeltaPrecision Precision);

    /// <summary>A trainer node's process, spoken to in lines.</summary>
    private sealed class TrainerNode : IDisposable
    {
        private readonly Process _process;
        private readonly SemaphoreSlim _one = new(1, 1);

        private TrainerNode(Process process) => _process = process;

        public static TrainerNode Start(int index, long floats, BlobStoreSettings settings, string directory)
        {
            var info = new ProcessStartInfo("dotnet")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[] { typeof(RoundDataBench).Assembly.Location, "round-data-node", $"{index}", $"{floats}",
                settings.Kind == BlobStoreKind.S3 ? "s3" : "directory", directory })
            {
                info.ArgumentList.Add(argument);
            }
            info.Environment["OMP_NUM_THREADS"] = "1";
            return new TrainerNode(Process.Start(info)!);
        }

        public async Task<T> Ask<T>(string kind, object? body, CancellationToken token)
        {
            await _one.WaitAsync(token);
            try
            {
                await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(new Request(kind, JsonSerializer.SerializeToElement(body))).AsMemory(), token);
                await _process.StandardInput.FlushAsync(token);
                while (await _process.StandardOutput.ReadLineAsync(token) is { } line)
                {
                    if (line.StartsWith(Reply, StringComparison.Ordinal))
                        return JsonSerializer.Deserialize<T>(line[Reply.Length..])!;
                }
                throw new InvalidOperationException($"Trainer node {_process.Id} ended (exit {(_process.HasExited ? _process.ExitCode : -1)}).");
            }
            finally
            {
                _one.Release();
            }
        }

        public void Dispose()
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(TimeSpan.FromSeconds(30)))
                _process.Kill();
            _process.Dispose();
            _one.Dispose();
        }
    }

    /// <summary>Counts the blob bytes read and written (deletes move none).</summary>
    private sealed class CountingStore(IBlobStore inner) : IBlobStore
    {
        private long _bytes;

        public long Bytes => Interlocked.Read(ref _bytes);

        public long Reset() => Interlocked.Exchange(ref _bytes, 0);

        public async Task<BlobRef> WriteAsync(Func<Stream, CancellationToken, Task> write, BlobDurability durability, CancellationToken cancellationToken)
        {
            var blob = await inner.WriteAsync(write, durability, cancellationToken);
            Interlocked.Add(ref _bytes, blob.Size);
            return blob;
        }

        public async Task<T> ReadAsync<T>(BlobRef blob, Func<Stream, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
        {
            var result = await inner.ReadAsync(blob, read, cancellationToken);
            Interlocked.Add(ref _bytes, blob.Size);
            return result;
        }

        public Task DeleteAsync(BlobRef blob, CancellationToken cancellationToken) => inner.DeleteAsync(blob, cancellationToken);
    }
}
