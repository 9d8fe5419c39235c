using Moe.Model.Devices;
using static TorchSharp.torch;

namespace Moe.Model.Routing;

/// <summary>The argument checks every router and solver shares, so each problem has one message.</summary>
public static class RoutingGuards
{
    public static void TopK(int topK, int experts)
    {
        if (topK <= 0 || topK > experts)
            throw new ArgumentException(
                $"top-K must satisfy 1 <= K <= experts ({experts}), got K = {topK}.", nameof(topK));
    }

    public static void Iterations(int iterations)
    {
        if (iterations < 1)
            throw new ArgumentException($"Iterations T must be at least 1, got {iterations}.", nameof(iterations));
    }

    /// <summary>
    /// Checks a [tokens, experts] score matrix: shape, non-empty, floating point, and all finite unless
    /// <paramref name="checkFinite"/> is false (the training step checks its loss instead: a read of every score per
    /// layer would stall a GPU).
    /// </summary>
    public static void Scores(Tensor scores, int experts, bool checkFinite = true)
    {
        if (scores.dim() != 2)
            throw new ArgumentException(
                $"Scores must be a 2-D [tokens, experts] tensor, got shape [{string.Join(", ", scores.shape)}].",
                nameof(scores));
        if (scores.shape[0] == 0)
            throw new ArgumentException("The batch is empty: scores have 0 tokens.", nameof(scores));
        if (scores.shape[1] != experts)
            throw new ArgumentException(
                $"Scores have {scores.shape[1]} experts per token but the router has {experts}.", nameof(scores));
        if (!scores.is_floating_point())
            throw new ArgumentException($"Scores must be floating point, got {scores.dtype}.", nameof(scores));
        if (checkFinite && !HostReads.AllFinite(scores))
            throw new ArgumentException("Scores contain NaN or infinite values.", nameof(scores));
    }

    public static void Prices(Tensor q, int experts, string name)
    {
        if (q.dim() != 1 || q.shape[0] != experts)
            throw new ArgumentException(
                $"{name} must have one entry per expert ({experts}), got shape [{string.Join(", ", q.shape)}].", name);
    }

    /// <summary>Checks a per-expert state vector restored from a checkpoint or a message: length m, all finite.</summary>
    public static void State(Tensor state, int experts, string name, bool checkFinite = true)
    {
        Prices(state, experts, name);
        if (checkFinite && !HostReads.AllFinite(state))
            throw new ArgumentException($"{name} contains NaN or infinite values.", name);
    }

    public static void Prices(ReadOnlySpan<float> q, int experts, string name)
    {
        if (q.Length != experts)
            throw new ArgumentException($"{name} must have one entry per expert ({experts}), got {q.Length}.", name);
    }
}
