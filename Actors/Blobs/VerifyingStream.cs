using System.Security.Cryptography;

namespace Moe.Actors.Blobs;

/// <summary>
/// A read-only view of a blob's content that checks it against its claim check as it goes: the read that delivers
/// the last byte throws <see cref="BlobCorruptedException"/> if the content is longer, shorter or other than the
/// blob, so a reader that reaches the end never returns damaged data. <see cref="Length"/> is the blob's size even
/// where the source (an HTTP body) cannot tell.
/// </summary>
internal sealed class VerifyingStream(Stream inner, BlobRef blob, string origin) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _probe = new byte[1];
    private long _position;

    /// <summary>True once the whole blob was read and matched its hash.</summary>
    public bool Verified { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => blob.Size;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException("A blob is read front to back.");
    }

    public override int Read(Span<byte> buffer)
    {
        var wanted = Wanted(buffer.Length);
        if (wanted == 0)
            return 0;
        var read = inner.Read(buffer[..wanted]);
        Account(buffer[..read]);
        if (_position == blob.Size)
            Verify(inner.Read(_probe));
        return read;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var wanted = Wanted(buffer.Length);
        if (wanted == 0)
            return 0;
        var read = await inner.ReadAsync(buffer[..wanted], cancellationToken).ConfigureAwait(false);
        Account(buffer.Span[..read]);
        if (_position == blob.Size)
            Verify(await inner.ReadAsync(_probe, cancellationToken).ConfigureAwait(false));
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>
    /// Runs <paramref name="read"/> over the blob. A reader must read to the end (only then is the content known to
    /// be good); one that fails half-way gets the rest checked, so damage is reported as damage, not as whatever
    /// the reader made of it.
    /// </summary>
    public async Task<T> Run<T>(Func<Stream, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        T result;
        try
        {
            result = await read(this, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not (BlobCorruptedException or OperationCanceledException))
        {
            await DrainAsync(cancellationToken).ConfigureAwait(false);
            throw;
        }
        return Verified
            ? result
            : throw new InvalidOperationException($"The reader of blob {blob} stopped at byte {_position:N0}; a blob is only trusted once read to its end.");
    }

    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 16];
        while (await ReadAsync(buffer, cancellationToken).ConfigureAwait(false) > 0)
        {
        }
    }

    private int Wanted(int length)
    {
        if (_position == blob.Size && !Verified)
            Verify(inner.Read(_probe)); // an empty blob
        return (int)Math.Min(length, blob.Size - _position);
    }

    private void Account(ReadOnlySpan<byte> read)
    {
        if (read.Length == 0)
            throw new BlobCorruptedException($"Blob {blob} from {origin} is damaged: it ends after {_position:N0} bytes; refused.");
        _hash.AppendData(read);
        _position += read.Length;
    }

    private void Verify(int bytesAfterEnd)
    {
        if (Verified)
            return;
        if (bytesAfterEnd > 0)
            throw new BlobCorruptedException($"Blob {blob} from {origin} is damaged: it has more than {blob.Size:N0} bytes; refused.");
        var sha256 = Convert.ToHexStringLower(_hash.GetHashAndReset());
        if (sha256 != blob.Sha256)
            throw new BlobCorruptedException($"Blob {blob} from {origin} is damaged: its content has SHA-256 {sha256[..12]}…; refused.");
        Verified = true;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _hash.Dispose(); // the inner stream belongs to the caller
        base.Dispose(disposing);
    }
}
