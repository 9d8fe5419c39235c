using Moe.Model.Routing;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

/// <summary>Seeded score matrices for tests: Gaussian logits plus a per-expert skew, through softmax or sigmoid.</summary>
internal static class TestScores
{
    /// <param name="skew">0 for exchangeable experts; larger values make low-index experts much more popular.</param>
    public static Tensor Make(int tokens, int experts, int seed, double skew = 0,
        ScoreFunction function = ScoreFunction.Softmax)
    {
        var random = new Random(seed);
        var logits = new float[tokens * experts];
        for (var i = 0; i < tokens; i++)
        {
            for (var j = 0; j < experts; j++)
                logits[(i * experts) + j] = (float)(Gaussian(random) - (skew * j / experts));
        }
        using var raw = tensor(logits, [tokens, experts]);
        return Scoring.Scores(raw, function);
    }

    public static float[] ToArray(Tensor t) => t.contiguous().cpu().data<float>().ToArray();

    public static long[] ToLongs(Tensor t) => t.to(ScalarType.Int64).cpu().data<long>().ToArray();

    private static double Gaussian(Random random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
