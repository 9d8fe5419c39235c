using Moe.Actors.Blobs;
using static TorchSharp.torch;

namespace Moe.Actors.Tests.Blobs;

public sealed class TensorHandoffTests
{
    private static BlobRef Blob(int k) => new(k.ToString("x64", System.Globalization.CultureInfo.InvariantCulture), 8);

    private static List<(string Name, Tensor Value)> Tensors(float value) => [("w", full(2, value)), ("b", full(3, value))];

    [Fact]
    public void Readers_before_the_last_get_independent_copies_and_the_last_gets_the_offered_tensors()
    {
        using var handoff = new TensorHandoff();
        var offered = Tensors(1f);
        handoff.Offer(Blob(1), offered, readers: 2);

        var first = handoff.Take(Blob(1))!;
        first[0].Value.fill_(7f);
        var last = handoff.Take(Blob(1))!;

        Assert.Same(offered[0].Value, last[0].Value);
        Assert.Equal([1f, 1f], last[0].Value.data<float>().ToArray());
        Assert.Equal(["w", "b"], first.Select(t => t.Name));
        Assert.Null(handoff.Take(Blob(1)));
        Assert.Equal(2, handoff.Served);
        first.Concat(last).ToList().ForEach(t => t.Value.Dispose());
    }

    [Fact]
    public void A_blob_never_offered_is_not_there()
    {
        using var handoff = new TensorHandoff();
        Assert.Null(handoff.Take(Blob(1)));
        Assert.Equal(0, handoff.Served);
    }

    [Fact]
    public void Beyond_capacity_the_oldest_entry_is_released()
    {
        using var handoff = new TensorHandoff();
        var oldest = Tensors(0f);
        handoff.Offer(Blob(0), oldest, readers: 1);
        for (var k = 1; k <= TensorHandoff.Capacity; k++)
            handoff.Offer(Blob(k), Tensors(k), readers: 1);

        Assert.Null(handoff.Take(Blob(0)));
        Assert.All(oldest, t => Assert.True(t.Value.IsInvalid));
        var newest = handoff.Take(Blob(TensorHandoff.Capacity))!;
        Assert.Equal(TensorHandoff.Capacity, newest[0].Value.data<float>()[0]);
        newest.ForEach(t => t.Value.Dispose());
    }

    [Fact]
    public void Offering_a_blob_again_replaces_the_earlier_offer_and_a_closed_handoff_releases_what_it_is_given()
    {
        var handoff = new TensorHandoff();
        var earlier = Tensors(1f);
        handoff.Offer(Blob(1), earlier, readers: 1);
        handoff.Offer(Blob(1), Tensors(1f), readers: 1);
        Assert.All(earlier, t => Assert.True(t.Value.IsInvalid));

        var kept = handoff.Take(Blob(1))!;
        handoff.Dispose();
        var late = Tensors(2f);
        handoff.Offer(Blob(2), late, readers: 1);

        Assert.All(late, t => Assert.True(t.Value.IsInvalid));
        Assert.Null(handoff.Take(Blob(2)));
        kept.ForEach(t => t.Value.Dispose());
    }
}
