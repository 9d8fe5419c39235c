using System.Numerics;
using BenchmarkDotNet.Attributes;
using Moe.Model.Balancing;
using Moe.Model.Routing;
using static TorchSharp.torch;

namespace Moe.Benchmarks;

/// <summary>
/// Cost of balancing against one streaming pass over the same score matrix (the baseline, ratio 1), and against
/// plain top-K routing. Shapes (n, m, K): (4096, 16, 2), (16384, 64, 8), (65536, 256, 8).
/// One iteration = (T=4 solve) / 4 on the CPU kernel, whose one transpose per solve is then shared by 4.
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class RoutingBenchmarks
{
    private float[] _scores = [];
    private float[] _q = [];
    private Tensor _tensor = null!;
    private Tensor _zeroQ = null!;
    private BipRouter _bip = null!;
    private TopKRouter _topK = null!;

    [ParamsSource(nameof(Shapes))]
    public Shape Case { get; set; } = Shapes[0];

    public static Shape[] Shapes { get; } = [new(4096, 16, 2), new(16384, 64, 8), new(65536, 256, 8)];

    [GlobalSetup]
    public void Setup()
    {
        var (n, m, k) = (Case.Tokens, Case.Experts, Case.TopK);
        var random = new Random(1);
        var logits = new float[n * m];
        for (var i = 0; i < logits.Length; i++)
            logits[i] = (float)((random.NextDouble() * 4) - (3.0 * (i % m) / m));
        _tensor = Scoring.Scores(tensor(logits, [n, m]), ScoreFunction.Softmax).DetachFromDisposeScope();
        _scores = _tensor.data<float>().ToArray();
        _q = new float[m];
        _zeroQ = zeros(m).DetachFromDisposeScope();
        _bip = new BipRouter(new RouterConfig(m, k, Iterations: 4));
        _topK = new TopKRouter(new RouterConfig(m, k));
    }

    [Benchmark(Baseline = true, Description = "streaming pass (SIMD sum)")]
    public float StreamingSum()
    {
        var span = _scores.AsSpan();
        var lanes = Vector<float>.Count;
        Vector<float> a = default, b = default, c = default, d = default;
        var i = 0;
        for (; i + (4 * lanes) <= span.Length; i += 4 * lanes)
        {
            a += new Vector<float>(span[i..]);
            b += new Vector<float>(span[(i + lanes)..]);
            c += new Vector<float>(span[(i + (2 * lanes))..]);
            d += new Vector<float>(span[(i + (3 * lanes))..]);
        }
        var sum = Vector.Sum(a + b + c + d);
        for (; i < span.Length; i++)
            sum += span[i];
        return sum;
    }

    [Benchmark(Description = "streaming pass (torch.sum)")]
    public float TorchSum()
    {
        using var sum = _tensor.sum();
        return sum.item<float>();
    }

    [Benchmark(Description = "BIP CPU kernel, T=1 (with transpose)")]
    public float BipCpuOneIteration()
    {
        Array.Clear(_q);
        DualBalancingCpu.Solve(_scores, Case.Tokens, Case.Experts, _q, Case.TopK, 1, clip: true);
        return _q[0];
    }

    [Benchmark(Description = "BIP CPU kernel, T=4, per iteration", OperationsPerInvoke = 4)]
    public float BipCpuPerIteration()
    {
        Array.Clear(_q);
        DualBalancingCpu.Solve(_scores, Case.Tokens, Case.Experts, _q, Case.TopK, 4, clip: true);
        return _q[0];
    }

    [Benchmark(Description = "BIP tensor (kthvalue), T=4, per iteration", OperationsPerInvoke = 4)]
    public float BipTensorPerIteration()
    {
        using var scope = NewDisposeScope();
        return DualBalancing.Solve(_tensor, _zeroQ, Case.TopK, 4, clip: true)[0].item<float>();
    }

    [Benchmark(Description = "top-K routing alone")]
    public long TopKRouting()
    {
        using var scope = NewDisposeScope();
        return _topK.Route(_tensor).Loads[0].item<int>();
    }

    [Benchmark(Description = "BIP routing, T=4 (solve + top-K)")]
    public long BipRouting()
    {
        using var scope = NewDisposeScope();
        return _bip.Route(_tensor).Loads[0].item<int>();
    }

    public sealed record Shape(int Tokens, int Experts, int TopK)
    {
        public override string ToString() => $"n={Tokens} m={Experts} K={TopK}";
    }
}
