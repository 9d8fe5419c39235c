using static TorchSharp.torch;

namespace Moe.Model.Routing;

public static class Scoring
{
    /// <summary>Router logits [tokens, experts] to scores in [0, 1].</summary>
    public static Tensor Scores(Tensor logits, ScoreFunction function) => function switch
    {
        ScoreFunction.Softmax => nn.functional.softmax(logits, dim: -1),
        ScoreFunction.Sigmoid => nn.functional.sigmoid(logits),
        _ => throw new ArgumentOutOfRangeException(nameof(function), function, null),
    };
}
