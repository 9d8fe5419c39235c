using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace Moe.Observability.Tests;

/// <summary>The Prometheus names the program exports, derived from the instruments MoeMetrics really creates.</summary>
internal static class ExportedMetrics
{
    public static IReadOnlySet<string> Names()
    {
        RuntimeHelpers.RunClassConstructor(typeof(MoeMetrics).TypeHandle);
        var names = new HashSet<string>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name != MoeMetrics.MeterName)
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
