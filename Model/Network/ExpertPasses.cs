using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Network;

/// <summary>Runs a layer's experts over their slots and sums their weighted outputs per token.</summary>
internal delegate Tensor ExpertPass(IReadOnlyList<SwiGlu> experts, Tensor tokens, ExpertSlots slots);

internal static class ExpertPasses
{
    /// <summary>
    /// One gather of every slot's token, split into each expert's run, the experts, and one in-place combine. An
    /// expert without slots still runs on an empty batch, so that its gradient is zero rather than missing: every
    /// parameter then takes every optimiser step, and a resumed run matches a straight one. The runs come from
    /// one split rather than a narrow each: a narrow's backward fills a zero tensor the size of the whole gather.
    /// </summary>
    public static Tensor OnePass(IReadOnlyList<SwiGlu> experts, Tensor tokens, ExpertSlots slots)
    {
        var runs = tokens.index_select(0, slots.TokenOfSlot).split(slots.Kept);
        var outputs = new Tensor[experts.Count];
        for (var e = 0; e < experts.Count; e++)
            outputs[e] = experts[e].forward(runs[e]);
        using var one = 1.ToScalar(); // held Scalar: see KeptScalars
        return zeros_like(tokens).index_add_(0, slots.TokenOfSlot, cat(outputs) * slots.WeightOfSlot, one);
    }

    /// <summary>
    /// The reference <see cref="OnePass"/> is checked and timed against: a gather and an out-of-place index_add per
    /// expert, which copies the whole output once per expert.
    /// </summary>
    public static Tensor PerExpertCopies(IReadOnlyList<SwiGlu> experts, Tensor tokens, ExpertSlots slots)
    {
        using var one = 1.ToScalar();
        var output = zeros_like(tokens);
        long offset = 0;
        for (var e = 0; e < experts.Count; e++)
        {
            var index = slots.TokenOfSlot.narrow(0, offset, slots.Kept[e]);
            var y = experts[e].forward(tokens.index_select(0, index)) * slots.WeightOfSlot.narrow(0, offset, slots.Kept[e]);
            output = output.index_add(0, index, y, one);
            offset += slots.Kept[e];
        }
        return output;
    }
}
