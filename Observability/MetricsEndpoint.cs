using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace Moe.Observability;

/// <summary>OpenTelemetry metrics of one node, exported for Prometheus on the node's web host.</summary>
public static class MetricsEndpoint
{
    public const string Path = "/metrics";

    /// <summary>Buckets of the duration histograms, in seconds: from a fast step to a slow checkpoint.</summary>
    private static readonly double[] SecondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

    /// <summary>
    /// Exports <paramref name="metrics"/> only: OpenTelemetry matches meters by name, so every other node's
    /// instruments in this process (same name, another scope) are dropped by a view. Durations get buckets in
    /// seconds (OpenTelemetry's default buckets are made for milliseconds).
    /// </summary>
    public static IServiceCollection AddMoeMetrics(this IServiceCollection services, NodeMetrics metrics)
    {
        services.AddOpenTelemetry().WithMetrics(builder => builder
            .AddMeter(NodeMetrics.MeterName)
            .AddView(instrument => !ReferenceEquals(instrument.Meter.Scope, metrics) ? MetricStreamConfiguration.Drop
                : instrument.Unit == "s" ? new ExplicitBucketHistogramConfiguration { Boundaries = SecondsBuckets }
                : null)
            .AddPrometheusExporter());
        return services;
    }

    public static IEndpointRouteBuilder MapMoeMetrics(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPrometheusScrapingEndpoint(Path);
        return endpoints;
    }
}
