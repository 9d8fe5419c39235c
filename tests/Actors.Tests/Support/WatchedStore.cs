using Moe.Actors.Blobs;

namespace Moe.Actors.Tests.Support;

/// <summary>A blob store that records every read, and can hold the first read of one blob until released.</summary>
internal sealed class WatchedStore(IBlobStore inner) : IBlobStore
{
    private (BlobRef Blob, Hold Hold)? _hold;

    /// <summary>Every blob read, in order; lock it to read it while reads may run.</summary>
    public List<BlobRef> Reads { get; } = [];

    public Hold HoldFirstRead(BlobRef blob)
    {
        var hold = new Hold();
        _hold = (blob, hold);
        return hold;
    }

    public Task<BlobRef> WriteAsync(Func<Stream, CancellationToken, Task> write, BlobDurability durability, CancellationToken cancellationToken) =>
        inner.WriteAsync(write, durability, cancellationToken);

    public async Task<T> ReadAsync<T>(BlobRef blob, Func<Stream, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        lock (Reads)
            Reads.Add(blob);
        if (_hold is { } hold && hold.Blob == blob)
        {
            _hold = null;
            hold.Hold.Entered.TrySetResult();
            await hold.Hold.Released.Task.ConfigureAwait(false);
        }
        return await inner.ReadAsync(blob, read, cancellationToken).ConfigureAwait(false);
    }

    public Task DeleteAsync(BlobRef blob, CancellationToken cancellationToken) => inner.DeleteAsync(blob, cancellationToken);

    /// <summary>A read held up: entered once it began, going on once released.</summary>
    public sealed class Hold
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Released { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => Released.TrySetResult();
    }
}
