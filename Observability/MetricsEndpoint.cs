using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace Moe.Observability;

/// <summary>OpenTelemetry metrics of one node, exported for Prometheus on the node's web host.</summary>
public static class MetricsEndpoint
{
    public const string Path = "/metrics";

    /// <summary>
    /// Exports <paramref name="metrics"/> only: OpenTelemetry matches meters by name, so every other node's
    /// instruments in this process (same name, another scope) are dropped by a view.
    /// </summary>
    public static IServiceCollection AddMoeMetrics(this IServiceCollection services, NodeMetrics metrics)
    {
        services.AddOpenTelemetry().WithMetrics(builder => builder
            .AddMeter(NodeMetrics.MeterName)
            .AddView(instrument => ReferenceEquals(instrument.Meter.Scope, metrics) ? null : MetricStreamConfiguration.Drop)
            .AddPrometheusExporter());
        return services;
    }

    public static IEndpointRouteBuilder MapMoeMetrics(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPrometheusScrapingEndpoint(Path);
        return endpoints;
    }
}
