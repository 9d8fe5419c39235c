using System.Globalization;
using Moe.Model.Routing;

namespace Moe.Model.Training;

/// <summary>
/// One method of a comparison: a router, and the capacity factor its experts drop tokens beyond (null: the model's;
/// 0: none, dropless). Written "topk:cf=1.25" on the command line.
/// </summary>
public sealed record ComparedMethod(RouterKind Router, double? CapacityFactor = null)
{
    public string Name => CapacityFactor is { } cf ? $"{Router.ShortName()}:cf={cf.ToString(CultureInfo.InvariantCulture)}" : Router.ShortName();

    public static ComparedMethod Parse(string text)
    {
        var parts = text.Split(':', 2, StringSplitOptions.TrimEntries);
        var router = RouterKinds.Parse(parts[0]);
        if (parts.Length == 1)
            return new ComparedMethod(router);
        if (!parts[1].StartsWith("cf=", StringComparison.Ordinal)
            || !double.TryParse(parts[1][3..], NumberStyles.Float, CultureInfo.InvariantCulture, out var cf) || !(cf >= 0))
        {
            throw new ArgumentException($"Method '{text}': write a capacity factor as ROUTER:cf=NUMBER (0 or more), e.g. topk:cf=1.25.");
        }
        return new ComparedMethod(router, cf);
    }

    public override string ToString() => Name;
}
