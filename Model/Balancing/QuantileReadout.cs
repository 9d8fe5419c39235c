namespace Moe.Model.Balancing;

/// <summary>
/// What a merged histogram says at the global capacity: per expert, the (C+1)-th largest s - p (unclipped), and
/// whether it fell into an edge cell, where the counts say only "at or beyond the window's edge".
/// </summary>
public sealed record QuantileReadout(float[] Values, bool[] InEdge)
{
    /// <summary>The experts' prices: the quantiles, clipped at 0 for BIP.</summary>
    public float[] Prices(bool clip) => clip ? [.. Values.Select(v => MathF.Max(0f, v))] : Values;

    /// <summary>The share of experts whose quantile lies in an edge cell: above 0, their windows are widening.</summary>
    public double EdgeShare => Values.Length == 0 ? 0 : (double)InEdge.Count(e => e) / Values.Length;
}
