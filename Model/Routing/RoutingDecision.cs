using static TorchSharp.torch;

namespace Moe.Model.Routing;

/// <summary>
/// The routing of one batch. Tensors belong to the caller's dispose scope and stay on the scores' device.
/// </summary>
/// <param name="Experts">[tokens, K] int64: the chosen experts of each token, distinct per row.</param>
/// <param name="Weights">[tokens, K]: gate weights, taken from the original scores (renormalised if configured).</param>
/// <param name="Loads">[experts] int32: tokens routed to each expert.</param>
/// <param name="AuxLoss">Scalar auxiliary loss to add to the training loss, or null.</param>
/// <param name="TokenPrices">
/// [tokens]: the (K+1)-th largest of s - q per token at the q routed with, unclipped (BIP and QB), or null.
/// </param>
public sealed record RoutingDecision(Tensor Experts, Tensor Weights, Tensor Loads, Tensor? AuxLoss, Tensor? TokenPrices = null);
