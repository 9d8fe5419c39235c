namespace Moe.Model.Network;

/// <summary>
/// Floating-point operations the model performs per token, counting a multiply-add as 2 and only the matrix
/// products (norms, activations and routing are small beside them). Training costs about 3 forwards.
/// </summary>
public static class ModelFlops
{
    public static double ForwardPerToken(MoeModelConfig c)
    {
        double d = c.Dim;
        var attention = (2 * d * 3 * d) + (2 * d * d) + (2 * 2 * c.ContextLength * d); // qkv, output, scores and values
        var moe = (2 * d * c.Experts) + (c.TopK * 3 * 2 * d * c.ExpertHidden) + (c.SharedExpert ? 3 * 2 * d * c.ExpertHidden : 0);
        var dense = 3 * 2 * d * c.DenseHidden;
        var head = 2 * d * c.VocabSize;
        return (c.Layers * attention) + (c.DenseLayers * dense) + ((c.Layers - c.DenseLayers) * moe) + head;
    }

    public static double TrainingPerToken(MoeModelConfig c) => 3 * ForwardPerToken(c);
}
