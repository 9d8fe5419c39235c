using Moe.Model.Devices;
using Moe.Model.Training.Rounds;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

public sealed class SlicePlanTests
{
    [Fact]
    public void Slices_are_runs_of_whole_tensors_that_cover_all_and_balance_the_bytes()
    {
        long[] elements = [100, 5, 5, 90, 10, 100, 1, 1, 98, 50, 50];
        var total = elements.Sum();
        foreach (var slices in new[] { 1, 2, 3, 4, elements.Length })
        {
            var plan = SlicePlan.Cut(elements, slices);

            Assert.Equal(slices, plan.Count);
            var covered = Enumerable.Range(0, slices).SelectMany(s => Enumerable.Range(0, elements.Length).Take(plan.Tensors(s))).ToList();
            Assert.Equal(Enumerable.Range(0, elements.Length), covered); // in order, each once
            for (var s = 0; s < slices; s++)
            {
                var (offset, length) = plan.Tensors(s).GetOffsetAndLength(elements.Length);
                Assert.True(length >= 1, $"slice {s} of {slices} is empty");
                Assert.All(Enumerable.Range(offset, length), t => Assert.Equal(s, plan.SliceOf(t)));
            }
            // No slice holds more than its share and the largest tensor: the cut misses the share by less than that.
            var largest = Enumerable.Range(0, slices).Max(s => elements.Take(plan.Tensors(s)).Sum());
            Assert.True(largest <= ((double)total / slices) + elements.Max(), $"{slices} slices: the largest holds {largest} of {total}");
        }
        Assert.Equal([0, 4, 8, 11], Enumerable.Range(0, 3).Select(s => plan3Start(s)).Append(elements.Length));

        int plan3Start(int s) => SlicePlan.Cut(elements, 3).Tensors(s).Start.Value;
    }

    [Fact]
    public void A_plan_needs_a_tensor_for_every_slice()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SlicePlan.Cut([1, 2, 3], 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => SlicePlan.Cut([1, 2, 3], 0));
    }

    [Fact]
    public void Stepping_slice_by_slice_gives_the_whole_outer_step_bit_for_bit()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        var global = new ParameterSet(Enumerable.Range(0, 9).Select(k => new NamedTensor($"p{k}", randn(3 + k, 5))));
        var deltas = Enumerable.Range(0, 3).Select(_ => new ParameterSet(global.Select(p => p with { Value = randn(p.Value.shape).Times(1e-2) }))).ToList();
        var momentum = new ParameterSet(global.Select(p => p with { Value = randn(p.Value.shape).Times(1e-3) }));
        var (whole, wholeMomentum) = OuterNesterov.Step(global, deltas, momentum, 0.7, 0.9);

        var plan = SlicePlan.Cut(global, 4);
        for (var s = 0; s < plan.Count; s++)
        {
            var range = plan.Tensors(s);
            var (part, partMomentum) = OuterNesterov.Step(global.Take(range).ToList(), [.. deltas.Select(d => (IReadOnlyList<NamedTensor>)d.Take(range).ToList())],
                momentum.Take(range).ToList(), 0.7, 0.9);
            var (offset, _) = range.GetOffsetAndLength(global.Count);
            for (var k = 0; k < part.Count; k++)
            {
                Assert.Equal(whole[offset + k].Value.bytes.ToArray(), part[k].Value.bytes.ToArray());
                Assert.Equal(wholeMomentum![offset + k].Value.bytes.ToArray(), partMomentum![k].Value.bytes.ToArray());
            }
        }
    }
}
