using System.Security.Cryptography;

namespace Moe.Actors.Blobs;

/// <summary>
/// A write-only stream that hashes what passes through it on the way to <paramref name="inner"/>, so a blob is
/// named by its content without reading it back.
/// </summary>
internal sealed class HashingStream(Stream inner) : Stream
{
    private const int BufferSize = 1 << 20;

    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _size;

    /// <summary>
    /// Creates <paramref name="path"/> with what <paramref name="write"/> writes and returns its claim check; with
    /// <paramref name="sync"/>, the content is on disk when this returns.
    /// </summary>
    public static async Task<BlobRef> WriteFileAsync(string path, Func<Stream, CancellationToken, Task> write, bool sync, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize);
        await using var hashing = new HashingStream(file);
        await write(hashing, cancellationToken).ConfigureAwait(false);
        await hashing.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (sync)
            file.Flush(flushToDisk: true);
        return hashing.Blob;
    }

    /// <summary>The claim check of everything written so far.</summary>
    public BlobRef Blob => new(Convert.ToHexStringLower(_hash.GetCurrentHash()), _size);

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => _size;

    public override long Position
    {
        get => _size;
        set => throw new NotSupportedException("A blob is written front to back.");
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _hash.AppendData(buffer);
        inner.Write(buffer);
        _size += buffer.Length;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _hash.AppendData(buffer.Span);
        await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        _size += buffer.Length;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _hash.Dispose(); // the inner stream belongs to the caller
        base.Dispose(disposing);
    }
}
