using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Moe.Model.IO;

/// <summary>
/// A 2-D float matrix stored in NumPy's .npy format (as <c>numpy.save</c> or <c>torch.Tensor.numpy()</c> writes
/// it): little-endian float32 or float64, C order. Values are held as float32, row-major.
/// </summary>
public sealed partial class NpyMatrix
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public NpyMatrix(int rows, int columns, float[] values)
    {
        if (rows < 0 || columns < 0 || values.Length != (long)rows * columns)
            throw new ArgumentException($"A {rows} x {columns} matrix needs {(long)rows * columns} values, got {values.Length}.");
        Rows = rows;
        Columns = columns;
        Values = values;
    }

    public int Rows { get; }

    public int Columns { get; }

    public float[] Values { get; }

    /// <summary>The dtype the file stored ("float32" or "float64"); "float32" for matrices made in memory.</summary>
    public string SourceDtype { get; private init; } = "float32";

    public static NpyMatrix Read(string path)
    {
        if (Directory.Exists(path))
            throw new NpyFormatException($"{path}: is a directory; give a .npy file.");
        byte[] bytes;
        try
        {
            // The magic first: a device or a huge file of another kind is refused without reading it all.
            using (var stream = File.OpenRead(path))
            {
                Span<byte> start = stackalloc byte[Magic.Length];
                if (stream.ReadAtLeast(start, start.Length, throwOnEndOfStream: false) < start.Length || !start.SequenceEqual(Magic))
                    throw new NpyFormatException($"{path}: not a NumPy .npy file (it does not start with \\x93NUMPY).");
                if (stream.CanSeek && stream.Length > Array.MaxLength)
                    throw new NpyFormatException($"{path}: {stream.Length} bytes is more than one matrix of router scores can be.");
            }
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NpyFormatException($"{path}: cannot be read: {e.Message}");
        }
        return Parse(bytes, path);
    }

    public static NpyMatrix Parse(ReadOnlySpan<byte> file, string name)
    {
        if (file.Length < 10 || !file[..6].SequenceEqual(Magic))
            throw new NpyFormatException($"{name}: not a NumPy .npy file (it does not start with \\x93NUMPY).");
        var major = file[6];
        int headerLength, headerStart;
        switch (major)
        {
            case 1:
                headerLength = BinaryPrimitives.ReadUInt16LittleEndian(file[8..]);
                headerStart = 10;
                break;
            case 2 or 3 when file.Length >= 12:
                var length = BinaryPrimitives.ReadUInt32LittleEndian(file[8..]);
                headerLength = length <= int.MaxValue - 12 ? (int)length : throw new NpyFormatException($"{name}: truncated .npy header.");
                headerStart = 12;
                break;
            default:
                throw new NpyFormatException($"{name}: unsupported .npy format version {major}.{file[7]}.");
        }
        if (headerStart + headerLength > file.Length)
            throw new NpyFormatException($"{name}: truncated .npy header.");
        var header = Encoding.UTF8.GetString(file.Slice(headerStart, headerLength));

        var descr = DescrPattern().Match(header);
        var fortran = FortranPattern().Match(header);
        var shape = ShapePattern().Match(header);
        if (!descr.Success || !fortran.Success || !shape.Success)
            throw new NpyFormatException($"{name}: malformed .npy header: {header.Trim()}");

        var dtype = descr.Groups[1].Value;
        var elementSize = dtype switch
        {
            "<f4" => 4,
            "<f8" => 8,
            ">f4" or ">f8" => throw new NpyFormatException(
                $"{name}: big-endian dtype '{dtype}'; save the array as little-endian (arr.astype('<f4')) instead."),
            _ => throw new NpyFormatException(
                $"{name}: dtype '{dtype}' is not supported; router scores must be float32 ('<f4') or float64 ('<f8')."),
        };
        if (fortran.Groups[1].Value == "True")
            throw new NpyFormatException(
                $"{name}: Fortran-ordered array; save a C-ordered copy (numpy.ascontiguousarray) instead.");

        var dims = shape.Groups[1].Value
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => long.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out var size) ? size
                : throw new NpyFormatException($"{name}: shape ({shape.Groups[1].Value}) must list sizes as whole numbers from 0 to {long.MaxValue}; \"{d}\" is not one."))
            .ToArray();
        if (dims.Length != 2)
            throw new NpyFormatException(
                $"{name}: expected a 2-D [tokens, experts] array, got shape ({string.Join(", ", dims)}).");
        if (dims[0] > int.MaxValue || dims[1] > int.MaxValue || dims[0] * dims[1] > Array.MaxLength)
            throw new NpyFormatException($"{name}: array of shape ({dims[0]}, {dims[1]}) is too large.");

        var rows = (int)dims[0];
        var columns = (int)dims[1];
        var count = (long)rows * columns;
        var data = file[(headerStart + headerLength)..];
        if (data.Length < count * elementSize)
            throw new NpyFormatException(
                $"{name}: truncated: shape ({rows}, {columns}) needs {count * elementSize} data bytes, found {data.Length}.");
        if (data.Length > count * elementSize)
            throw new NpyFormatException(
                $"{name}: {data.Length - (count * elementSize)} bytes follow the data of shape ({rows}, {columns}); the file is not a single array.");

        var values = new float[count];
        for (var k = 0; k < count; k++)
        {
            values[k] = elementSize == 4
                ? BinaryPrimitives.ReadSingleLittleEndian(data[(k * 4)..])
                : (float)BinaryPrimitives.ReadDoubleLittleEndian(data[(k * 8)..]);
        }
        return new NpyMatrix(rows, columns, values) { SourceDtype = elementSize == 4 ? "float32" : "float64" };
    }

    /// <summary>Writes a version 1.0 .npy file of little-endian float32 in C order.</summary>
    public void Write(string path)
    {
        var header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({Rows}, {Columns}), }}";
        // Pad with spaces so that magic + version + length + header + newline is a multiple of 64 bytes.
        var total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + ((64 - (total % 64)) % 64)) + "\n";

        using var stream = File.Create(path);
        stream.Write(Magic);
        stream.Write([1, 0]);
        Span<byte> length = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)header.Length);
        stream.Write(length);
        stream.Write(Encoding.ASCII.GetBytes(header));
        Span<byte> value = stackalloc byte[4];
        foreach (var v in Values)
        {
            BinaryPrimitives.WriteSingleLittleEndian(value, v);
            stream.Write(value);
        }
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
