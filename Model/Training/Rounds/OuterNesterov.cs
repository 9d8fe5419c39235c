using Moe.Model.Devices;
using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Training.Rounds;

/// <summary>
/// DiLoCo's outer step (Douillard et al. 2023): the outer gradient is the mean of the trainers' deltas
/// (global minus local parameters after H inner steps); Nesterov momentum applies it:
/// v = mu v + g, theta = theta - lr (g + mu v). With lr = 1 and mu = 0 this is plain parameter averaging.
/// </summary>
public static class OuterNesterov
{
    /// <returns>
    /// The new global parameters and momentum, in the order of <paramref name="global"/>; the momentum is null when
    /// <paramref name="momentumFactor"/> is 0, as no later step reads it. The caller disposes them; the inputs are
    /// left as they were.
    /// </returns>
    public static (ParameterSet Parameters, ParameterSet? Momentum) Step(
        IReadOnlyList<NamedTensor> global,
        IReadOnlyList<IReadOnlyList<NamedTensor>> deltas,
        IReadOnlyList<NamedTensor>? momentum,
        double learningRate,
        double momentumFactor)
    {
        if (deltas.Count == 0)
            throw new ArgumentException("An outer step needs at least one trainer's delta.", nameof(deltas));
        if (!(learningRate > 0) || momentumFactor is < 0 or >= 1)
            throw new ArgumentException($"Outer learning rate must be > 0 and momentum in [0, 1), got {learningRate} and {momentumFactor}.");
        if (momentum is not null && momentum.Count != global.Count)
            throw new ArgumentException($"The momentum has {momentum.Count} tensors, the global parameters {global.Count}.", nameof(momentum));
        var keepsMomentum = momentumFactor > 0;
        var parameters = new List<NamedTensor>(global.Count);
        var velocities = keepsMomentum ? new List<NamedTensor>(global.Count) : null;
        using var noGrad = no_grad();
        // Held Scalars (see KeptScalars), and every update fused into one pass over the parameter where libtorch
        // allows: the outer step is on the round's critical path while every trainer waits.
        using var mu = momentumFactor.ToScalar();
        using var minusLr = (-learningRate).ToScalar();
        using var minusLrMu = (-learningRate * momentumFactor).ToScalar();
        using var count = deltas.Count.ToScalar();
        for (var k = 0; k < global.Count; k++)
        {
            var (name, theta) = global[k];
            using var scope = NewDisposeScope();
            foreach (var delta in deltas)
            {
                if (delta.Count != global.Count || delta[k].Name != name || !delta[k].Value.shape.SequenceEqual(theta.shape))
                    throw new ArgumentException($"A delta does not match the global parameters at {name}.", nameof(deltas));
            }
            var gradient = deltas.Count == 1 ? deltas[0][k].Value : MeanOf(deltas, k, count);
            if (!keepsMomentum)
            {
                parameters.Add(new(name, theta.add(gradient, minusLr).MoveToOuterDisposeScope()));
                continue;
            }
            if (momentum is not null && (momentum[k].Name != name || !momentum[k].Value.shape.SequenceEqual(theta.shape)))
                throw new ArgumentException($"The momentum does not match the global parameters at {name}.", nameof(momentum));
            var velocity = momentum is null ? gradient.clone() : gradient.add(momentum[k].Value, mu);
            parameters.Add(new(name, theta.add(gradient, minusLr).add_(velocity, minusLrMu).MoveToOuterDisposeScope()));
            velocities!.Add(new(name, velocity.MoveToOuterDisposeScope()));
        }
        return (new ParameterSet(parameters), velocities is null ? null : new ParameterSet(velocities));
    }

    private static Tensor MeanOf(IReadOnlyList<IReadOnlyList<NamedTensor>> deltas, int k, Scalar count)
    {
        var sum = deltas[0][k].Value.clone();
        for (var d = 1; d < deltas.Count; d++)
            sum.PlusInPlace(deltas[d][k].Value);
        return sum.div_(count);
    }
}
