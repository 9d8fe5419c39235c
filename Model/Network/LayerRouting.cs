using Moe.Model.Routing;
using static TorchSharp.torch;

namespace Moe.Model.Network;

/// <summary>
/// How one MoE layer routed one forward pass. Its tensors live in the caller's dispose scope.
/// </summary>
/// <param name="Scores">[tokens, experts]: the router scores the decision was made from.</param>
/// <param name="Loads">Tokens routed to each expert (before any capacity limit), on the host.</param>
/// <param name="Dropped">Routed slots the capacity limit turned away.</param>
public sealed record LayerRouting(RoutingDecision Decision, Tensor Scores, long[] Loads, long Dropped)
{
    /// <summary>Keeps this routing's tensors alive past the dispose scope it was made in (a micro-batch's).</summary>
    public void MoveToOuterDisposeScope()
    {
        Scores.MoveToOuterDisposeScope();
        Decision.Experts.MoveToOuterDisposeScope();
        Decision.Weights.MoveToOuterDisposeScope();
        Decision.Loads.MoveToOuterDisposeScope();
        Decision.AuxLoss?.MoveToOuterDisposeScope();
        Decision.TokenPrices?.MoveToOuterDisposeScope();
    }

    /// <summary>The routing of a batch from its micro-batches' (per MoE layer, in the same order): tokens in order, loads added.</summary>
    public static IReadOnlyList<LayerRouting> Concat(IReadOnlyList<IReadOnlyList<LayerRouting>> microBatches) =>
        [.. Enumerable.Range(0, microBatches[0].Count).Select(layer =>
        {
            var parts = microBatches.Select(m => m[layer]).ToList();
            var decision = new RoutingDecision(
                cat([.. parts.Select(p => p.Decision.Experts)]),
                cat([.. parts.Select(p => p.Decision.Weights)]),
                stack([.. parts.Select(p => p.Decision.Loads)]).sum(0, type: parts[0].Decision.Loads.dtype),
                parts[0].Decision.AuxLoss is null ? null : stack([.. parts.Select(p => p.Decision.AuxLoss!)]).mean(),
                parts[0].Decision.TokenPrices is null ? null : cat([.. parts.Select(p => p.Decision.TokenPrices!)]));
            var loads = new long[parts[0].Loads.Length];
            foreach (var part in parts)
            {
                for (var e = 0; e < loads.Length; e++)
                    loads[e] += part.Loads[e];
            }
            return new LayerRouting(decision, cat([.. parts.Select(p => p.Scores)]), loads, parts.Sum(p => p.Dropped));
        })];
}
