using Moe.Model.Devices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Moe.Model.Training;

/// <summary>
/// Gradient clipping by the global L2 norm, as <c>clip_grad_norm_</c> computes it, but in tensor operations only:
/// the norm stays on the device (libtorch's returns it as a host double, one read per step).
/// </summary>
public static class GradientClipping
{
    /// <summary>Scales the gradients so that their global norm is at most <paramref name="maxNorm"/>; returns the norm before.</summary>
    public static Tensor ClipByNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        var all = parameters.ToArray();
        var gradients = all.Select(p => p.grad).OfType<Tensor>().ToArray();
        using (no_grad())
        {
            if (gradients.Length == 0)
                return zeros([], device: all.Length > 0 ? all[0].device : null);
            var norm = stack([.. gradients.Select(g => g.norm())]).norm();
            using var max = maxNorm.ToScalar(); // held Scalars: see KeptScalars
            using var epsilon = 1e-6.ToScalar();
            using var one = 1.0.ToScalar();
            using var coefficient = norm.add(epsilon, KeptScalars.One).reciprocal_().mul_(max).clamp_max_(one);
            foreach (var gradient in gradients)
                gradient.mul_(coefficient);
            return norm;
        }
    }
}
