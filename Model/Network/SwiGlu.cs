using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Moe.Model.Network;

/// <summary>The feed-forward of one expert (or of a dense layer): down(silu(gate(x)) * up(x)).</summary>
public sealed class SwiGlu : nn.Module<Tensor, Tensor>
{
    private readonly Linear gate;
    private readonly Linear up;
    private readonly Linear down;

    public SwiGlu(int dim, int hidden) : base(nameof(SwiGlu))
    {
        gate = nn.Linear(dim, hidden, hasBias: false);
        up = nn.Linear(dim, hidden, hasBias: false);
        down = nn.Linear(hidden, dim, hasBias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) =>
        down.forward(nn.functional.silu(gate.forward(x)) * up.forward(x));
}
