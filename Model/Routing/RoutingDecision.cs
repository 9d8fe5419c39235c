using static TorchSharp.torch;

namespace Moe.Model.Routing;

/// <summary>
/// The routing of one batch. Tensors belong to the caller's dispose scope.
/// </summary>
/// <param name="Experts">[tokens, K] int64: the chosen experts of each token, distinct per row.</param>
/// <param name="Weights">[tokens, K]: gate weights, taken from the original scores (renormalised if configured).</param>
/// <param name="Loads">[experts] int64: tokens routed to each expert.</param>
/// <param name="AuxLoss">Scalar auxiliary loss to add to the training loss, or null.</param>
public sealed record RoutingDecision(Tensor Experts, Tensor Weights, Tensor Loads, Tensor? AuxLoss);
