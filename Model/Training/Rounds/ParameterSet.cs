using System.Collections;
using static TorchSharp.torch;

namespace Moe.Model.Training.Rounds;

/// <summary>One named tensor of a <see cref="ParameterSet"/>.</summary>
public readonly record struct NamedTensor(string Name, Tensor Value);

/// <summary>
/// Named tensors in the model's parameter order (global parameters, a trainer's delta, the outer momentum) that
/// own their memory: whoever holds the set disposes it, and disposing it releases every tensor.
/// </summary>
public sealed class ParameterSet(IEnumerable<NamedTensor> tensors) : IReadOnlyList<NamedTensor>, IDisposable
{
    private readonly List<NamedTensor> _tensors = [.. tensors];

    public int Count => _tensors.Count;

    public NamedTensor this[int index] => _tensors[index];

    /// <summary>Detached CPU copies of <paramref name="module"/>'s parameters.</summary>
    public static ParameterSet Of(nn.Module module)
    {
        using var scope = NewDisposeScope();
        return new ParameterSet(module.named_parameters().Select(p => new NamedTensor(p.name, p.parameter.detach().cpu().clone().MoveToOuterDisposeScope())));
    }

    /// <summary>
    /// Fresh tensors with the same content, made without a libtorch kernel (any thread may copy). For contiguous CPU
    /// tensors, which loaded files and outer-step results are.
    /// </summary>
    public ParameterSet Copy() => new(_tensors.Select(t =>
    {
        var copy = empty(t.Value.shape, t.Value.dtype);
        t.Value.bytes.CopyTo(copy.bytes);
        return t with { Value = copy };
    }));

    public IEnumerator<NamedTensor> GetEnumerator() => _tensors.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public void Dispose()
    {
        foreach (var tensor in _tensors)
            tensor.Value.Dispose();
        _tensors.Clear();
    }
}
