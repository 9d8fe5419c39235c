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
    /// <returns>The new global parameters and momentum, in the order of <paramref name="global"/>. The caller disposes them.</returns>
    public static (List<(string Name, Tensor Value)> Parameters, List<(string Name, Tensor Value)> Momentum) Step(
        IReadOnlyList<(string Name, Tensor Value)> global,
        IReadOnlyList<IReadOnlyList<(string Name, Tensor Value)>> deltas,
        IReadOnlyList<(string Name, Tensor Value)>? momentum,
        double learningRate,
        double momentumFactor)
    {
        if (deltas.Count == 0)
            throw new ArgumentException("An outer step needs at least one trainer's delta.", nameof(deltas));
        if (!(learningRate > 0) || momentumFactor is < 0 or >= 1)
            throw new ArgumentException($"Outer learning rate must be > 0 and momentum in [0, 1), got {learningRate} and {momentumFactor}.");
        var parameters = new List<(string, Tensor)>(global.Count);
        var velocities = new List<(string, Tensor)>(global.Count);
        using var noGrad = no_grad();
        using var mu = momentumFactor.ToScalar(); // explicit Scalars: see RmsNorm
        using var lr = learningRate.ToScalar();
        using var count = deltas.Count.ToScalar();
        for (var k = 0; k < global.Count; k++)
        {
            var (name, theta) = global[k];
            using var scope = NewDisposeScope();
            var gradient = zeros_like(theta);
            foreach (var delta in deltas)
            {
                if (delta.Count != global.Count || delta[k].Name != name || !delta[k].Value.shape.SequenceEqual(theta.shape))
                    throw new ArgumentException($"A delta does not match the global parameters at {name}.", nameof(deltas));
                gradient.add_(delta[k].Value);
            }
            gradient.div_(count);
            var velocity = momentum is null ? gradient.clone() : (momentum[k].Value * mu) + gradient;
            var step = gradient + (velocity * mu);
            parameters.Add((name, (theta - (step * lr)).MoveToOuterDisposeScope()));
            velocities.Add((name, velocity.MoveToOuterDisposeScope()));
        }
        return (parameters, velocities);
    }
}
