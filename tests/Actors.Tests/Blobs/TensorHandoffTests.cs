using Moe.Actors.Blobs;
using Moe.Model.Training.Rounds;
using static TorchSharp.torch;

namespace Moe.Actors.Tests.Blobs;

public sealed class TensorHandoffTests
{
    private static BlobRef Blob(int k) => new(k.ToString("x64", System.Globalization.CultureInfo.InvariantCulture), 8);

    private static ParameterSet Tensors(float value) => new([new("w", tensor(new[] { value, value })), new("b", tensor(new[] { value, value, value }))]);

    [Fact]
    public void Readers_before_the_last_get_independent_copies_and_the_last_gets_the_offered_tensors()
    {
        using var handoff = new TensorHandoff();
        var offered = Tensors(1f);
        handoff.Offer("coordinator", Blob(1), offered, readers: 2);

        var first = handoff.Take(Blob(1))!;
        first[0].Value.copy_(tensor(new[] { 7f, 7f }));
        var last = handoff.Take(Blob(1))!;

        Assert.Same(offered[0].Value, last[0].Value);
        Assert.Equal([1f, 1f], last[0].Value.data<float>().ToArray());
        Assert.Equal(["w", "b"], first.Select(t => t.Name));
        Assert.Null(handoff.Take(Blob(1)));
        Assert.Equal(2, handoff.Served);
        first.Dispose();
        last.Dispose();
    }

    [Fact]
    public void A_blob_never_offered_is_not_there()
    {
        using var handoff = new TensorHandoff();
        Assert.Null(handoff.Take(Blob(1)));
        Assert.Equal(0, handoff.Served);
    }

    [Fact]
    public void A_new_offer_releases_what_the_same_giver_left_untaken_and_keeps_what_others_left()
    {
        using var handoff = new TensorHandoff();
        var untaken = Tensors(0f);
        var untakenTensors = untaken.Select(t => t.Value).ToList();
        handoff.OfferDelta("trainer-0", "attempt-0", untaken); // of a round that did not commit
        handoff.OfferDelta("trainer-1", "attempt-1", Tensors(1f));
        handoff.OfferDelta("trainer-0", "attempt-1", Tensors(2f));
        handoff.Offer("coordinator", Blob(3), Tensors(3f), readers: 1);

        Assert.Null(handoff.TakeDelta("trainer-0", "attempt-0"));
        Assert.All(untakenTensors, t => Assert.True(t.IsInvalid));
        foreach (var (take, value) in new (Func<ParameterSet?> Take, float Value)[]
        {
            (() => handoff.TakeDelta("trainer-1", "attempt-1"), 1f),
            (() => handoff.TakeDelta("trainer-0", "attempt-1"), 2f),
            (() => handoff.Take(Blob(3)), 3f),
        })
        {
            var taken = take()!;
            Assert.Equal(value, taken[0].Value.data<float>()[0]);
            taken.Dispose();
        }
    }

    [Fact]
    public void A_delta_is_found_only_by_its_trainer_and_attempt_and_only_once()
    {
        using var handoff = new TensorHandoff();
        var offered = Tensors(1f);
        handoff.OfferDelta("trainer-0", "attempt-0", offered);

        Assert.Null(handoff.TakeDelta("trainer-0", "attempt-1"));
        Assert.Null(handoff.TakeDelta("trainer-1", "attempt-0"));
        var taken = handoff.TakeDelta("trainer-0", "attempt-0")!;

        Assert.Same(offered[0].Value, taken[0].Value);
        Assert.Null(handoff.TakeDelta("trainer-0", "attempt-0"));
        Assert.Equal(1, handoff.Served);
        taken.Dispose();
    }

    [Fact]
    public void A_closed_handoff_releases_what_it_holds_and_what_it_is_given()
    {
        var handoff = new TensorHandoff();
        var held = Tensors(1f);
        var tensors = held.Select(t => t.Value).ToList();
        handoff.Offer("coordinator", Blob(1), held, readers: 1);

        handoff.Dispose();
        var late = Tensors(2f);
        tensors.AddRange(late.Select(t => t.Value));
        handoff.Offer("coordinator", Blob(2), late, readers: 1);
        var lateDelta = Tensors(3f);
        tensors.AddRange(lateDelta.Select(t => t.Value));
        handoff.OfferDelta("trainer-0", "attempt-0", lateDelta);

        Assert.All(tensors, t => Assert.True(t.IsInvalid));
        Assert.Null(handoff.Take(Blob(2)));
        Assert.Null(handoff.TakeDelta("trainer-0", "attempt-0"));
    }
}
