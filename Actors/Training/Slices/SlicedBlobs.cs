using System.Text;
using Moe.Actors.Blobs;
using Moe.Model.Training.Rounds;

namespace Moe.Actors.Training.Slices;

/// <summary>
/// A parameter set stored as S slice blobs and an index blob that lists them in order; the index is what messages
/// and the journal carry. Every slice and index holds a tag naming its job, attempt and kind, so no two parameter
/// sets ever share a blob (content addressing would otherwise merge a momentum slice with an equal delta slice), and
/// deleting an index with its slices never takes another set's blob.
/// </summary>
public static class SlicedBlobs
{
    private const string SliceMagic = "MOESLICE1";
    private const string IndexMagic = "MOEINDEX1";

    /// <summary>Writes every slice of <paramref name="tensors"/> side by side, then the index; returns the index.</summary>
    public static async Task<BlobRef> WriteAsync(IBlobStore store, IReadOnlyList<NamedTensor> tensors, int slices, string tag,
        DeltaPrecision precision, BlobDurability durability, CancellationToken token)
    {
        var plan = SlicePlan.Cut(tensors, slices);
        var written = await Task.WhenAll(Enumerable.Range(0, slices).Select(slice =>
            WriteSliceAsync(store, tensors.Take(plan.Tensors(slice)).ToList(), $"{tag} slice {slice}", precision, durability, token))).ConfigureAwait(false);
        return await WriteIndexAsync(store, tag, written, durability, token).ConfigureAwait(false);
    }

    public static Task<BlobRef> WriteSliceAsync(IBlobStore store, IReadOnlyList<NamedTensor> tensors, string tag, DeltaPrecision precision,
        BlobDurability durability, CancellationToken token) =>
        store.WriteAsync((stream, cancel) => Task.Run(() =>
        {
            using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(SliceMagic);
                writer.Write(tag);
            }
            ParameterFile.Save(stream, tensors, precision);
        }, cancel), durability, token);

    public static Task<BlobRef> WriteIndexAsync(IBlobStore store, string tag, IReadOnlyList<BlobRef> slices, BlobDurability durability, CancellationToken token)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(IndexMagic);
            writer.Write(tag);
            writer.Write(slices.Count);
            foreach (var slice in slices)
            {
                writer.Write(slice.Sha256);
                writer.Write(slice.Size);
            }
        }
        var bytes = buffer.ToArray();
        return store.WriteAsync((stream, cancel) => stream.WriteAsync(bytes, cancel).AsTask(), durability, token);
    }

    /// <summary>The slices an index lists, in order.</summary>
    public static Task<IReadOnlyList<BlobRef>> ReadIndexAsync(IBlobStore store, BlobRef index, CancellationToken token) =>
        store.ReadAsync(index, async (stream, cancel) =>
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, cancel).ConfigureAwait(false);
            copy.Position = 0;
            using var reader = new BinaryReader(copy, Encoding.UTF8);
            try
            {
                if (reader.ReadString() != IndexMagic)
                    throw NotAnIndex(index, null);
                _ = reader.ReadString();
                var slices = new BlobRef[reader.ReadInt32()];
                for (var k = 0; k < slices.Length; k++)
                    slices[k] = BlobRef.Create(reader.ReadString(), reader.ReadInt64());
                return (IReadOnlyList<BlobRef>)slices;
            }
            catch (Exception e) when (e is EndOfStreamException or ArgumentException)
            {
                throw NotAnIndex(index, e);
            }
        }, token);

    private static InvalidDataException NotAnIndex(BlobRef blob, Exception? inner) => new(
        $"Blob {blob} is not a slice index: a job stepped in slices met parameters or a delta stored whole (by a node of a version without slices?).",
        inner);

    /// <summary>One slice's tensors (float32 on the CPU), which the caller disposes.</summary>
    public static Task<ParameterSet> ReadSliceAsync(IBlobStore store, BlobRef slice, string what, CancellationToken token) =>
        store.ReadAsync(slice, (stream, cancel) => Task.Run(() =>
        {
            using (var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true))
            {
                if (reader.ReadString() != SliceMagic)
                    throw new InvalidDataException($"{what} {slice} is not a parameter slice.");
                _ = reader.ReadString();
            }
            return ParameterFile.Load(stream, $"{what} {slice}");
        }, cancel), token);

    /// <summary>The whole set: every slice, read side by side, in order.</summary>
    public static async Task<ParameterSet> ReadAsync(IBlobStore store, BlobRef index, string what, CancellationToken token)
    {
        var slices = await ReadIndexAsync(store, index, token).ConfigureAwait(false);
        var reads = slices.Select((slice, k) => ReadSliceAsync(store, slice, $"{what} slice {k}", token)).ToList();
        try
        {
            await Task.WhenAll(reads).ConfigureAwait(false);
        }
        catch
        {
            foreach (var read in reads.Where(r => r.IsCompletedSuccessfully))
                read.Result.Dispose();
            throw;
        }
        return new ParameterSet(reads.SelectMany(r => r.Result));
    }

    /// <summary>Deletes the slices, then the index: a deletion cut short finds what is left from the index.</summary>
    public static async Task DeleteAsync(IBlobStore store, BlobRef index, CancellationToken token)
    {
        IReadOnlyList<BlobRef> slices;
        try
        {
            slices = await ReadIndexAsync(store, index, token).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return; // deleted before
        }
        await Task.WhenAll(slices.Select(slice => store.DeleteAsync(slice, token))).ConfigureAwait(false);
        await store.DeleteAsync(index, token).ConfigureAwait(false);
    }
}
