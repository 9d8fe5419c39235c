namespace Moe.Model.Routing;

public enum RouterKind
{
    /// <summary>No balancing: plain top-K of the scores. The baseline.</summary>
    TopK,

    /// <summary>BIP-Based Balancing (arXiv 2502.15451): top-K of s - q, q from the clipped LP dual.</summary>
    Bip,

    /// <summary>Quantile Balancing: the same dual with equality constraints, i.e. without clipping at 0.</summary>
    QuantileBalancing,

    /// <summary>Loss-Free Balancing (arXiv 2408.15664): top-K of s + b, b nudged after each step.</summary>
    LossFree,

    /// <summary>Plain top-K plus the Switch/GShard auxiliary balance loss.</summary>
    LossControlled,
}

public static class RouterKinds
{
    /// <summary>The short names used on the command line and in reports.</summary>
    public static string ShortName(this RouterKind kind) => kind switch
    {
        RouterKind.TopK => "topk",
        RouterKind.Bip => "bip",
        RouterKind.QuantileBalancing => "qb",
        RouterKind.LossFree => "lossfree",
        RouterKind.LossControlled => "losscontrolled",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    public static IReadOnlyList<RouterKind> All { get; } = Enum.GetValues<RouterKind>();

    public static RouterKind Parse(string name)
    {
        foreach (var kind in All)
        {
            if (string.Equals(kind.ShortName(), name, StringComparison.OrdinalIgnoreCase))
                return kind;
        }
        throw new ArgumentException(
            $"Unknown router '{name}'. Use one of: {string.Join(", ", All.Select(k => k.ShortName()))}.", nameof(name));
    }
}
