namespace Moe.Model.Training.Rounds;

/// <summary>
/// The parameters cut into S slices for a sharded outer step: runs of whole tensors in the model's order, balanced by
/// bytes. Each tensor's outer step reads only that tensor of every input, so stepping the slices one by one gives
/// the same values as one step over all of them. The cut depends only on the tensors' sizes and S, so every node
/// computes the same one.
/// </summary>
public sealed class SlicePlan
{
    private readonly int[] _starts; // the first tensor of each slice, and the tensor count at the end

    private SlicePlan(int[] starts) => _starts = starts;

    public int Count => _starts.Length - 1;

    /// <summary>The tensors (indices in the model's order) of <paramref name="slice"/>.</summary>
    public Range Tensors(int slice) => _starts[slice].._starts[slice + 1];

    /// <summary>The slice that holds tensor <paramref name="tensor"/>.</summary>
    public int SliceOf(int tensor)
    {
        var found = Array.BinarySearch(_starts, tensor);
        return found >= 0 ? Math.Min(found, Count - 1) : ~found - 1;
    }

    /// <summary>
    /// Cuts tensors of <paramref name="elements"/> values each into <paramref name="slices"/> runs: each slice
    /// closes at the tensor that takes it nearest its share of the total, keeping at least one tensor for each
    /// slice after it.
    /// </summary>
    public static SlicePlan Cut(IReadOnlyList<long> elements, int slices)
    {
        if (slices < 1 || slices > elements.Count)
            throw new ArgumentOutOfRangeException(nameof(slices), slices, $"A plan needs 1 to {elements.Count} slices (one tensor at least in each).");
        var total = (double)elements.Sum();
        var starts = new int[slices + 1];
        starts[slices] = elements.Count;
        var boundary = 0; // the first tensor of the next slice
        double before = 0; // the values of the tensors before it
        for (var slice = 1; slice < slices; slice++)
        {
            var target = total * slice / slices;
            for (; boundary <= starts[slice - 1]; boundary++)
                before += elements[boundary];
            for (; boundary < elements.Count - (slices - slice) && Math.Abs(before + elements[boundary] - target) < Math.Abs(before - target); boundary++)
                before += elements[boundary];
            starts[slice] = boundary;
        }
        return new SlicePlan(starts);
    }

    /// <summary>The plan for a set of named tensors (parameters, a delta, momentum).</summary>
    public static SlicePlan Cut(IReadOnlyList<NamedTensor> tensors, int slices) =>
        Cut([.. tensors.Select(t => t.Value.NumberOfElements)], slices);
}
