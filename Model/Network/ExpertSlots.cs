using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Network;

/// <summary>
/// The routed slots of one pass grouped by expert: expert 0's kept slots first, each expert's in token order.
/// </summary>
/// <param name="TokenOfSlot">[kept slots] int64: the token each slot carries.</param>
/// <param name="WeightOfSlot">[kept slots, 1]: its gate weight.</param>
/// <param name="Kept">Slots each expert keeps: its load, or the capacity when the load exceeds it.</param>
internal sealed record ExpertSlots(Tensor TokenOfSlot, Tensor WeightOfSlot, long[] Kept)
{
    /// <summary>Groups the slots by expert with one stable sort; a capacity keeps each expert's first slots.</summary>
    public static ExpertSlots Group(Tensor experts, Tensor weights, long[] loads, long capacity, ScalarType dtype)
    {
        using var slotsPerToken = experts.shape[1].ToScalar(); // held Scalar: see KeptScalars
        var (_, order) = experts.flatten().sort(stable: true);
        var kept = loads.Select(load => Math.Min(load, capacity)).ToArray();
        if (kept.AsSpan().SequenceEqual(loads))
            return Of(order);

        var starts = new long[loads.Length];
        for (var e = 1; e < loads.Length; e++)
            starts[e] = starts[e - 1] + loads[e - 1];
        return Of(cat([.. kept.Select((count, e) => order.narrow(0, starts[e], count))]));

        ExpertSlots Of(Tensor slots) => new(
            slots.div(slotsPerToken, rounding_mode: RoundingMode.floor),
            weights.flatten().index_select(0, slots).unsqueeze(1).to(dtype),
            kept);
    }
}
