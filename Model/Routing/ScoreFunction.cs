namespace Moe.Model.Routing;

/// <summary>How router logits become the scores s[i,j] in [0, 1] that routing and balancing read.</summary>
public enum ScoreFunction
{
    Softmax,
    Sigmoid,
}
