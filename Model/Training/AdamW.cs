using Moe.Model.Devices;
using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Model.Training;

/// <summary>
/// TorchSharp's AdamW with every Scalar of its step held for the native call (see <see cref="KeptScalars"/>): the
/// base class's step makes about eight that nothing keeps alive, per parameter and step. The arithmetic is the base
/// class's, op for op, so the parameters and moments come out bit for bit the same; the state and its saved form,
/// which starts with the class's name, are the base class's, so a checkpoint written by either loads into the other.
/// Plain AdamW only: no AMSGrad, no maximize.
/// </summary>
public sealed class AdamW : TorchSharp.Modules.AdamW
{
    public AdamW(IEnumerable<TorchSharp.Modules.Parameter> parameters, double lr, double beta1, double beta2, double weightDecay)
        : base([new ParamGroup { Parameters = parameters }], lr, beta1, beta2, weight_decay: weightDecay)
    {
    }

    public override Tensor step(Func<Tensor>? closure = null) =>
        _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            var (beta1, beta2, eps) = (options.beta1!.Value, options.beta2!.Value, options.eps!.Value);
            var (lr, weightDecay) = (options.LearningRate!.Value, options.weight_decay!.Value);
            if (options.amsgrad == true || options.maximize == true)
                throw new NotSupportedException("This AdamW steps plain AdamW: no AMSGrad, no maximize.");
            using var decay = (1 - (lr * weightDecay)).ToScalar();
            using var keep1 = beta1.ToScalar();
            using var keep2 = beta2.ToScalar();
            using var take1 = (1 - beta1).ToScalar();
            using var take2 = (1 - beta2).ToScalar();
            using var epsilon = eps.ToScalar();
            foreach (var parameter in group.Parameters)
            {
                if (parameter.grad is not { } grad)
                    continue;
                var state = (State)_state[parameter.Handle];
                state.step += 1;
                parameter.mul_(decay);
                state.exp_avg.mul_(keep1).add_(grad, take1);
                state.exp_avg_sq.mul_(keep2).addcmul_(grad, grad, take2);
                using var correction2 = Math.Sqrt(1 - Math.Pow(beta2, state.step)).ToScalar();
                using var stepSize = (-(lr / (1 - Math.Pow(beta1, state.step)))).ToScalar();
                using var denominator = state.exp_avg_sq.sqrt().div(correction2).add_(epsilon, KeptScalars.One);
                parameter.addcdiv_(state.exp_avg, denominator, stepSize);
            }
        }, closure);
}
