using System.Buffers.Binary;
using System.Text;
using Moe.Model.IO;

namespace Moe.Model.Tests;

public class NpyMatrixTests
{
    [Fact]
    public void Float32_files_round_trip()
    {
        var path = Path.GetTempFileName();
        try
        {
            var matrix = new NpyMatrix(3, 2, [0.5f, 1f, -2f, 3.25f, 1e-7f, float.Epsilon]);
            matrix.Write(path);
            var read = NpyMatrix.Read(path);
            Assert.Equal((3, 2, "float32"), (read.Rows, read.Columns, read.SourceDtype));
            Assert.Equal(matrix.Values, read.Values);
            Assert.Equal(0, (new FileInfo(path).Length - (3 * 2 * 4)) % 64); // header padded as NumPy does
        }
        finally
        {
            System.IO.File.Delete(path);
        }
    }

    [Fact]
    public void Float64_and_version_2_files_are_read()
    {
        var data = new byte[2 * 2 * 8];
        double[] values = [0.25, -1.5, 3.0, 1e-3];
        for (var k = 0; k < 4; k++)
            BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(k * 8), values[k]);

        var read = NpyMatrix.Parse(NpyBytes("<f8", false, "(2, 2)", data, version: 2), "v2.npy");
        Assert.Equal("float64", read.SourceDtype);
        Assert.Equal(values.Select(v => (float)v), read.Values);
    }

    [Theory]
    [InlineData("<i4", false, "(2, 2)", 16, "dtype '<i4'")]
    [InlineData(">f4", false, "(2, 2)", 16, "big-endian")]
    [InlineData("<f4", true, "(2, 2)", 16, "Fortran")]
    [InlineData("<f4", false, "(4,)", 16, "2-D")]
    [InlineData("<f4", false, "(2, 2, 1)", 16, "2-D")]
    [InlineData("<f4", false, "(2, 2)", 15, "truncated")]
    [InlineData("<f4", false, "(2, 2)", 20, "bytes follow")]
    [InlineData("<f4", false, "(99999999999999999999, 8)", 16, "whole numbers")]
    [InlineData("<f4", false, "(4L, 8L)", 16, "\"4L\" is not one")]
    [InlineData("<f4", false, "(a, b)", 16, "\"a\" is not one")]
    [InlineData("<f4", false, "(-1, 8)", 16, "\"-1\" is not one")]
    public void Bad_files_are_refused_with_the_reason(string descr, bool fortran, string shape, int dataBytes, string reason)
    {
        var error = Assert.Throws<NpyFormatException>(() => NpyMatrix.Parse(NpyBytes(descr, fortran, shape, new byte[dataBytes]), "bad.npy"));
        Assert.Contains(reason, error.Message);
        Assert.StartsWith("bad.npy: ", error.Message);
    }

    [Fact]
    public void Non_npy_and_truncated_headers_are_refused()
    {
        Assert.Contains("not a NumPy .npy file", Assert.Throws<NpyFormatException>(() => NpyMatrix.Parse("tokens,experts\n1,2\n"u8, "x.csv")).Message);
        var whole = NpyBytes("<f4", false, "(1, 1)", new byte[4]);
        Assert.Contains("truncated .npy header", Assert.Throws<NpyFormatException>(() => NpyMatrix.Parse(whole.AsSpan(0, 20), "cut.npy")).Message);
        Assert.Contains("cannot be read", Assert.Throws<NpyFormatException>(() => NpyMatrix.Read("/nonexistent/scores.npy")).Message);
        var huge = NpyBytes("<f4", false, "(1, 1)", new byte[4], version: 2);
        BinaryPrimitives.WriteUInt32LittleEndian(huge.AsSpan(8), 0xFFFFFFF0);
        Assert.Contains("truncated .npy header", Assert.Throws<NpyFormatException>(() => NpyMatrix.Parse(huge, "huge.npy")).Message);
    }

    [Fact]
    public void A_directory_or_a_device_is_refused_at_once_without_reading_it()
    {
        Assert.Contains("is a directory", Assert.Throws<NpyFormatException>(() => NpyMatrix.Read(Path.GetTempPath())).Message);
        Assert.Contains("not a NumPy .npy file", Assert.Throws<NpyFormatException>(() => NpyMatrix.Read("/dev/zero")).Message); // endless zeros
    }

    private static byte[] NpyBytes(string descr, bool fortran, string shape, byte[] data, int version = 1)
    {
        var header = Encoding.ASCII.GetBytes($"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {shape}, }}\n");
        var prefix = version == 1 ? 10 : 12;
        var bytes = new byte[prefix + header.Length + data.Length];
        new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)version, 0 }.CopyTo(bytes, 0);
        if (version == 1)
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)header.Length);
        else
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)header.Length);
        header.CopyTo(bytes, prefix);
        data.CopyTo(bytes, prefix + header.Length);
        return bytes;
    }
}
