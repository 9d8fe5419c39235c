using Moe.Actors.Blobs;
using Moe.Actors.Tests.Blobs;
using Moe.Actors.Training;
using Moe.Actors.Training.Slices;
using Moe.Model.Training.Rounds;
using Moe.Testing;
using static TorchSharp.torch;

namespace Moe.Actors.Tests.Training;

public sealed class SlicedBlobsTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly DirectoryBlobStore _store;
    private readonly JobSpec _sliced = new() { JobId = "job", Slices = 3 };

    public SlicedBlobsTests() => _store = new DirectoryBlobStore(Path.Combine(_temp.Path, "blobs"));

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_set_stored_in_slices_reads_back_whole_and_never_shares_a_blob_with_an_equal_set()
    {
        var token = TestContext.Current.CancellationToken;
        using var scope = NewDisposeScope();
        manual_seed(2);
        using var tensors = new ParameterSet(Enumerable.Range(0, 7).Select(k => new NamedTensor($"t{k}", randn(10 * (k + 1), 3))));

        var delta = await ParameterBlobs.WriteAsync(_store, _sliced, tensors, "attempt delta trainer-a", DeltaPrecision.Fp32, BlobDurability.Transient, token);
        var momentum = await ParameterBlobs.WriteAsync(_store, _sliced, tensors, "attempt momentum", DeltaPrecision.Fp32, BlobDurability.Durable, token);

        using var read = await ParameterBlobs.ReadAsync(_store, _sliced, delta, "delta", token);
        Assert.Equal(tensors.Select(t => t.Name), read.Select(t => t.Name));
        Assert.All(tensors.Zip(read), p => Assert.True(p.Item1.Value.bytes.SequenceEqual(p.Item2.Value.bytes), p.Item1.Name));
        var (deltaSlices, momentumSlices) = (await SlicedBlobs.ReadIndexAsync(_store, delta, token), await SlicedBlobs.ReadIndexAsync(_store, momentum, token));
        Assert.Equal(3, deltaSlices.Count);
        Assert.Empty(deltaSlices.Intersect(momentumSlices)); // equal content, yet blobs of their own
        Assert.Equal(8, BlobWrites.Stored(_store).Count);

        await ParameterBlobs.DeleteAsync(_store, _sliced, delta, token);

        Assert.Equal(4, BlobWrites.Stored(_store).Count); // the delta's index and slices went; the momentum stays whole
        Assert.Null(await ParameterBlobs.DamageAsync(_store, _sliced, momentum, "momentum", token));
        BlobWrites.Damage(_store, momentumSlices[2]);
        Assert.Equal($"momentum {momentum.Sha256} (slice {momentumSlices[2].Sha256}) is damaged",
            await ParameterBlobs.DamageAsync(_store, _sliced, momentum, "momentum", token));
    }

    [Fact]
    public async Task A_set_stored_whole_is_refused_as_an_index_with_what_to_suspect()
    {
        var token = TestContext.Current.CancellationToken;
        using var tensors = new ParameterSet([new NamedTensor("w", ones(4, 4))]);
        var whole = await ParameterBlobs.WriteAsync(_store, _sliced with { Slices = 0 }, tensors, "delta", DeltaPrecision.Fp32, BlobDurability.Transient, token);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ParameterBlobs.ReadAsync(_store, _sliced, whole, "delta", token));

        Assert.Contains("is not a slice index", error.Message, StringComparison.Ordinal);
        Assert.Contains("stored whole", error.Message, StringComparison.Ordinal);
    }
}
