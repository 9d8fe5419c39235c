using static TorchSharp.torch;

namespace Moe.Model.Routing;

/// <summary>Routes the tokens of one MoE layer to K of m experts, and keeps whatever state its method needs.</summary>
public interface IRouter
{
    RouterKind Kind { get; }

    RouterConfig Config { get; }

    /// <summary>Routes a batch of scores [tokens, experts] (see <see cref="Scoring"/>).</summary>
    /// <param name="checkFinite">
    /// Refuse NaN or infinite scores (a host read); the model's layers pass false, as the training step checks its
    /// loss and gradient norm once for all layers.
    /// </param>
    RoutingDecision Route(Tensor scores, bool checkFinite = true);

    /// <summary>
    /// Routes with the state as it is (inference): no solve on the batch, no auxiliary loss, and each token on its
    /// own, so that routing is causal and a token routes the same whatever else is in the batch.
    /// </summary>
    RoutingDecision RouteForInference(Tensor scores);

    /// <summary>Called once after the optimiser step that used <paramref name="decision"/>.</summary>
    void AfterStep(RoutingDecision decision);

    /// <summary>The per-expert state that must survive a restart (q or the bias), or null when there is none.</summary>
    Tensor? State { get; }

    /// <summary>Restores <see cref="State"/> (a checkpoint, or q published by the cluster's layer balancer).</summary>
    /// <param name="checkFinite">Refuse NaN or infinite values (a host read); false when the caller checked them on the host.</param>
    void LoadState(Tensor state, bool checkFinite = true);
}
