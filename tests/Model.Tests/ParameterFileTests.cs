using Moe.Model.Devices;
using Moe.Model.Training.Rounds;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

public sealed class ParameterFileTests : IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"moe-params-{Guid.NewGuid():N}");

    public void Dispose() => File.Delete(_file);

    [Fact]
    public void Tensors_round_trip_bit_for_bit()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        NamedTensor[] saved = [new("a.weight", randn(5, 7)), new("b.bias", randn(3)), new("empty", zeros(0))];
        ParameterFile.Save(_file, saved);

        var loaded = ParameterFile.Load(_file);

        Assert.Equal(saved.Select(t => t.Name), loaded.Select(t => t.Name));
        for (var k = 0; k < saved.Length; k++)
        {
            Assert.Equal(saved[k].Value.shape, loaded[k].Value.shape);
            Assert.Equal(saved[k].Value.data<float>().ToArray(), loaded[k].Value.data<float>().ToArray());
        }
    }

    [Fact]
    public void Damaged_files_are_refused_with_what_is_wrong()
    {
        using var scope = NewDisposeScope();
        ParameterFile.Save(_file, [new("w", ones(64, 64))]);
        var bytes = File.ReadAllBytes(_file);

        File.WriteAllBytes(_file, bytes[..^100]);
        Assert.Contains("ends inside tensor w", Assert.Throws<InvalidDataException>(() => ParameterFile.Load(_file)).Message);

        File.WriteAllBytes(_file, bytes[..20]);
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => ParameterFile.Load(_file)).Message);

        File.WriteAllBytes(_file, [.. bytes, 1, 2, 3]);
        Assert.Contains("3 bytes after its last tensor", Assert.Throws<InvalidDataException>(() => ParameterFile.Load(_file)).Message);

        using (var writer = new BinaryWriter(File.Create(_file)))
        {
            writer.Write("MOEPARAMS1");
            writer.Write(1);
            writer.Write("huge");
            writer.Write(2);
            writer.Write(1_000_000_000L);
            writer.Write(1_000_000_000L); // a damaged header: never allocated, named
        }
        Assert.Contains("ends inside tensor huge", Assert.Throws<InvalidDataException>(() => ParameterFile.Load(_file)).Message);

        File.WriteAllBytes(_file, [.. "NOTPARAMS"u8]);
        Assert.Contains("not a parameter file", Assert.Throws<InvalidDataException>(() => ParameterFile.Load(_file)).Message);
    }

    [Fact]
    public void A_bfloat16_file_holds_half_the_bytes_and_loads_as_float32_rounded_like_libtorch()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        float[] special = [0f, -0f, 1f, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, 1e-40f, 3.4e38f,
            BitConverter.UInt32BitsToSingle(0x3F808000), BitConverter.UInt32BitsToSingle(0x3F818000)]; // ties to even, down and up
        NamedTensor[] delta = [new("w", randn(300, 70).Times(1e-3)), new("s", tensor(special))];
        using (var stream = File.Create(_file))
            ParameterFile.Save(stream, delta, DeltaPrecision.Bf16);
        using (var stream = new MemoryStream())
        {
            ParameterFile.Save(stream, delta);
            Assert.InRange(new FileInfo(_file).Length, (stream.Length / 2) - 100, (stream.Length / 2) + 100);
        }

        using var loaded = ParameterFile.Load(_file);

        for (var k = 0; k < delta.Length; k++)
        {
            Assert.Equal(ScalarType.Float32, loaded[k].Value.dtype);
            var expected = delta[k].Value.to(ScalarType.BFloat16).to(ScalarType.Float32).data<float>().ToArray();
            Assert.Equal(expected, loaded[k].Value.data<float>().ToArray());
        }
        Assert.True(float.IsNaN(BFloat16.ToSingle(BFloat16.Of(float.NaN))));

        var rounded = delta[0].Value.clone();
        using (var set = new ParameterSet([new("w", rounded)]))
        {
            BFloat16.Round(set);
            Assert.Equal(loaded[0].Value.data<float>().ToArray(), rounded.data<float>().ToArray()); // a delta handed over in memory arrives the same
        }

        File.WriteAllBytes(_file, File.ReadAllBytes(_file)[..^3]);
        Assert.Contains("ends inside tensor s", Assert.Throws<InvalidDataException>(() => ParameterFile.Load(_file)).Message);
    }
}
