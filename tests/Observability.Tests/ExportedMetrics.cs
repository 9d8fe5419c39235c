using System.Diagnostics.Metrics;

namespace Moe.Observability.Tests;

/// <summary>The Prometheus names the program exports, derived from the instruments a node's metrics really create.</summary>
internal static class ExportedMetrics
{
    public static IReadOnlySet<string> Names()
    {
        using var metrics = new NodeMetrics();
        var names = new HashSet<string>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (!ReferenceEquals(instrument.Meter.Scope, metrics))
                    return;
                var name = instrument.Name + instrument.Unit switch { "s" => "_seconds", "By" => "_bytes", _ => "" };
                if (instrument.GetType().Name.StartsWith("Counter", StringComparison.Ordinal))
                    names.Add(name + "_total");
                else if (instrument.GetType().Name.StartsWith("Histogram", StringComparison.Ordinal))
                    names.UnionWith([name + "_bucket", name + "_sum", name + "_count"]);
                else
                    names.Add(name);
            },
        };
        listener.Start();
        return names;
    }
}
