using Moe.Model.Routing;
using static TorchSharp.torch;

namespace Moe.Model.Network;

/// <summary>
/// How one MoE layer routed one forward pass. Its tensors live in the caller's dispose scope.
/// </summary>
/// <param name="Scores">[tokens, experts]: the router scores the decision was made from.</param>
/// <param name="Loads">Tokens routed to each expert (before any capacity limit), on the host.</param>
/// <param name="Dropped">Routed slots the capacity limit turned away.</param>
public sealed record LayerRouting(RoutingDecision Decision, Tensor Scores, long[] Loads, long Dropped);
