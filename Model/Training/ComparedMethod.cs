using System.Globalization;
using Moe.Model.Routing;

namespace Moe.Model.Training;

/// <summary>
/// One method of a comparison: a router, the capacity factor its experts drop tokens beyond (null: the model's; 0:
/// none, dropless), and for BIP and QB an ablation (<see cref="DualVariant"/>). Written as the router's name with
/// options, e.g. "topk:cf=1.25" or "bip:clip=q:solve=after".
/// </summary>
public sealed record ComparedMethod(RouterKind Router, double? CapacityFactor = null, DualVariant? Variant = null)
{
    private static readonly Dictionary<string, PriceClipping> Clippings = new()
    {
        ["both"] = PriceClipping.Both,
        ["p"] = PriceClipping.TokenPrices,
        ["q"] = PriceClipping.ExpertPrices,
        ["none"] = PriceClipping.None,
    };

    public string Name
    {
        get
        {
            var name = Router.ShortName();
            if (CapacityFactor is { } cf)
                name += $":cf={cf.ToString(CultureInfo.InvariantCulture)}";
            if (Variant is { } variant)
                name += $":clip={Clippings.First(c => c.Value == variant.Clipping).Key}:solve={(variant.SolveAfterRouting ? "after" : "before")}";
            return name;
        }
    }

    public static ComparedMethod Parse(string text)
    {
        var parts = text.Split(':', StringSplitOptions.TrimEntries);
        var method = new ComparedMethod(RouterKinds.Parse(parts[0]));
        foreach (var option in parts[1..])
        {
            var (key, value) = option.Split('=', 2) is [var k, var v] ? (k, v) : (option, "");
            method = key switch
            {
                "cf" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var cf) && cf >= 0 => method with { CapacityFactor = cf },
                "clip" when Clippings.TryGetValue(value, out var clipping) && method.IsDual =>
                    method with { Variant = (method.Variant ?? method.Default) with { Clipping = clipping } },
                "solve" when value is "before" or "after" && method.IsDual =>
                    method with { Variant = (method.Variant ?? method.Default) with { SolveAfterRouting = value == "after" } },
                _ => throw new ArgumentException(
                    $"Method '{text}': options are cf=NUMBER (0 or more), and for bip and qb clip=both|p|q|none and solve=before|after, e.g. topk:cf=1.25 or bip:clip=q."),
            };
        }
        return method;
    }

    private bool IsDual => Router is RouterKind.Bip or RouterKind.QuantileBalancing;

    // The router as published: BIP clips both prices, QB neither; both solve before routing.
    private DualVariant Default => new(Router == RouterKind.Bip ? PriceClipping.Both : PriceClipping.None);

    public override string ToString() => Name;
}
