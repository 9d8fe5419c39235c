using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Moe.Model.IO;
using static Moe.Cluster.Host.Tests.Support.CommandLine;

namespace Moe.Cluster.Host.Tests;

/// <summary>`Cluster.Host balance` end to end, through the real command line, on files the tests write.</summary>
public sealed class BalanceCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("balance-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string SkewedScores(int tokens, int experts)
    {
        var random = new Random(7);
        var values = new float[tokens * experts];
        for (var i = 0; i < tokens; i++)
        {
            var row = Enumerable.Range(0, experts).Select(j => Math.Exp((random.NextDouble() * 2) - (4.0 * j / experts))).ToArray();
            var sum = row.Sum();
            for (var j = 0; j < experts; j++)
                values[(i * experts) + j] = (float)(row[j] / sum);
        }
        var path = Path.Combine(_directory, "scores.npy");
        new NpyMatrix(tokens, experts, values).Write(path);
        return path;
    }

    [Theory]
    [InlineData("bip", true)]
    [InlineData("qb", true)]
    [InlineData("lossfree", false)]
    [InlineData("topk", false)]
    public async Task Json_output_has_the_documented_fields(string method, bool hasPrices)
    {
        var path = SkewedScores(2048, 16);
        var (code, output, error) = await Run("balance", "--scores", path, "--top-k", "2", "--method", method, "--iterations", "6", "--json");

        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.Equal(method, root.GetProperty("method").GetString());
        Assert.Equal(2048, root.GetProperty("tokens").GetInt32());
        Assert.Equal(16, root.GetProperty("experts").GetInt32());
        Assert.Equal(2, root.GetProperty("topK").GetInt32());
        Assert.Equal(6, root.GetProperty("iterations").GetInt32());
        var loads = root.GetProperty("loads").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        Assert.Equal(16, loads.Length);
        Assert.Equal(2048 * 2, loads.Sum());
        var mean = 2048 * 2 / 16.0;
        Assert.Equal((loads.Max() - mean) / mean, root.GetProperty("maxVio").GetDouble(), 9);
        Assert.Equal(loads.Min() / mean, root.GetProperty("minOverMean").GetDouble(), 9);
        Assert.Equal(loads.Count(l => l == 0), root.GetProperty("deadExperts").GetInt32());
        Assert.True(root.GetProperty("objective").GetDouble() > 0);
        Assert.Equal(hasPrices ? 16 : 0, root.GetProperty("q").GetArrayLength());
    }

    [Fact]
    public async Task Balancing_methods_beat_top_k_on_skewed_scores_and_the_table_says_so()
    {
        var path = SkewedScores(4096, 16);
        double MaxVio(string output) => JsonDocument.Parse(output).RootElement.GetProperty("maxVio").GetDouble();

        var topK = MaxVio((await Run("balance", "--scores", path, "-k", "2", "--method", "topk", "--json")).Output);
        var qb = MaxVio((await Run("balance", "--scores", path, "-k", "2", "--method", "qb", "--json")).Output);
        Assert.True(qb < topK / 5, $"qb {qb} vs topk {topK}");

        var (code, table, _) = await Run("balance", "--scores", path, "-k", "2");
        Assert.Equal(0, code);
        Assert.Contains("method bip: 4096 tokens (float32), 16 experts, top-2, T = 16", table);
        Assert.Contains("MaxVio", table);
    }

    public static TheoryData<string, byte[], string> BadFiles()
    {
        static byte[] Npy(string descr, bool fortran, string shape, int dataBytes)
        {
            var header = Encoding.ASCII.GetBytes($"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {shape}, }}\n");
            var bytes = new byte[10 + header.Length + dataBytes];
            new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 }.CopyTo(bytes, 0);
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)header.Length);
            header.CopyTo(bytes, 10);
            return bytes;
        }

        return new()
        {
            { "not-npy", Encoding.ASCII.GetBytes("tokens,experts\n0.5,0.5\n"), "not a NumPy .npy file" },
            { "int-dtype", Npy("<i8", false, "(2, 2)", 32), "dtype '<i8' is not supported" },
            { "one-d", Npy("<f4", false, "(4,)", 16), "expected a 2-D" },
            { "fortran", Npy("<f4", true, "(2, 2)", 16), "Fortran-ordered" },
            { "truncated", Npy("<f4", false, "(2, 2)", 10), "truncated" },
            { "empty", Npy("<f4", false, "(0, 4)", 0), "empty" },
            { "nan", NanScores(), "nan.npy: score [0, 1] is NaN" },
        };
    }

    private static byte[] NanScores()
    {
        var path = Path.GetTempFileName();
        new NpyMatrix(2, 2, [0.5f, float.NaN, 0.25f, 0.75f]).Write(path);
        var bytes = File.ReadAllBytes(path);
        File.Delete(path);
        return bytes;
    }

    [Theory]
    [MemberData(nameof(BadFiles))]
    public async Task Bad_files_get_a_one_line_error_and_exit_code_2(string name, byte[] content, string reason)
    {
        var path = Path.Combine(_directory, name + ".npy");
        await File.WriteAllBytesAsync(path, content, TestContext.Current.CancellationToken);

        var (code, output, error) = await Run("balance", "--scores", path, "--top-k", "1");

        Assert.Equal(2, code);
        Assert.Empty(output);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.StartsWith("error: ", error);
        Assert.Contains(reason, error);
    }

    [Fact]
    public async Task Bad_options_are_bad_input_too()
    {
        var path = SkewedScores(16, 4);
        var (code, _, error) = await Run("balance", "--scores", path, "--top-k", "5");
        Assert.Equal(2, code);
        Assert.Equal("error: top-K must satisfy 1 <= K <= experts (4), got K = 5.", error.TrimEnd());

        (code, _, error) = await Run("balance", "--scores", path, "--top-k", "1", "--method", "fastest");
        Assert.Equal(2, code);
        Assert.Contains("fastest", error);

        (code, _, error) = await Run("balance", "--scores", Path.Combine(_directory, "missing.npy"), "--top-k", "1");
        Assert.Equal(2, code);
        Assert.Contains("cannot be read", error);
    }
}
