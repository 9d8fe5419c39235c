using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Moe.Observability.Tests;

public sealed class NodeMetricsTests
{
    /// <summary>The observable gauges' current measurements of <paramref name="metrics"/>, as "name{label=value,...}".</summary>
    private static List<string> Gauges(NodeMetrics metrics)
    {
        var seen = new List<string>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, metrics))
                    l.EnableMeasurementEvents(instrument);
            },
        };
        void Record<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state) =>
            seen.Add($"{instrument.Name}{{{string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}"))}}}");
        listener.SetMeasurementEventCallback<long>(Record);
        listener.SetMeasurementEventCallback<double>(Record);
        listener.SetMeasurementEventCallback<int>(Record);
        listener.Start();
        listener.RecordObservableInstruments();
        return seen;
    }

    [Fact]
    public void A_layers_gauges_go_when_its_balancer_stops_and_a_jobs_when_its_coordinator_does()
    {
        using var metrics = new NodeMetrics();
        metrics.LayerCommitted("job", 0, [3, 1], [0.5f, 0f], 0.5, 0.01);
        metrics.LayerCommitted("job", 1, [2, 2], [0f, 0f], 0, 0);
        metrics.RoundCommitted("job", 1.5, 4.2, 3, 0.1, 1000);

        Assert.Contains("moe_expert_load{job=job,layer=0,expert=1}", Gauges(metrics));
        Assert.Contains("moe_training_loss{job=job}", Gauges(metrics));
        Assert.Contains("moe_balancer_edge_share{job=job,layer=0}", Gauges(metrics));

        metrics.LayerStopped("job", 0);
        metrics.CoordinatorStopped("job");

        var left = Gauges(metrics);
        Assert.DoesNotContain(left, g => g.Contains("layer=0", StringComparison.Ordinal));
        Assert.Contains("moe_layer_max_vio{job=job,layer=1}", left);
        Assert.DoesNotContain(left, g => g.StartsWith("moe_training_loss", StringComparison.Ordinal));
    }

    [Fact]
    [Trait("Category", "Integration")]
    public async Task Two_nodes_in_one_process_each_export_only_their_own_series()
    {
        using var first = new NodeMetrics();
        using var second = new NodeMetrics();
        await using var firstServer = await Serve(first);
        await using var secondServer = await Serve(second);
        first.Step("job-a", "trainer-1", 0.25, 100);
        second.Step("job-b", "trainer-2", 0.024, 200);
        second.LayerCommitted("job-b", 0, [1, 1], [0f, 0f], 0, 0);

        using var http = new HttpClient();
        var token = TestContext.Current.CancellationToken;
        var one = await http.GetStringAsync(new Uri(Address(firstServer), MetricsEndpoint.Path), token);
        var two = await http.GetStringAsync(new Uri(Address(secondServer), MetricsEndpoint.Path), token);

        Assert.Contains("trainer=\"trainer-1\"", one, StringComparison.Ordinal);
        Assert.DoesNotContain("trainer-2", one, StringComparison.Ordinal);
        Assert.DoesNotContain("moe_expert_load", one, StringComparison.Ordinal);
        Assert.Contains("trainer=\"trainer-2\"", two, StringComparison.Ordinal);
        Assert.Contains(two.Split('\n'), l => l.StartsWith("moe_expert_load{", StringComparison.Ordinal) && l.Contains("job=\"job-b\"", StringComparison.Ordinal));
        // Durations in seconds get buckets in seconds: a step of tens of milliseconds lands below 50 ms, not in a first bucket of 5 s.
        Assert.Contains(two.Split('\n'), l => l.StartsWith("moe_step_duration_seconds_bucket{", StringComparison.Ordinal) && l.Contains("le=\"0.025\"", StringComparison.Ordinal) && l.EndsWith(" 1", StringComparison.Ordinal));
        Assert.DoesNotContain("trainer-1", two, StringComparison.Ordinal);
    }

    private static async Task<WebApplication> Serve(NodeMetrics metrics)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddMoeMetrics(metrics);
        var app = builder.Build();
        app.MapMoeMetrics();
        await app.StartAsync(TestContext.Current.CancellationToken);
        return app;
    }

    private static Uri Address(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    [Fact]
    public void A_round_whose_checkpoint_size_is_unknown_keeps_the_last_size()
    {
        using var metrics = new NodeMetrics();
        metrics.RoundCommitted("job", 1.5, 4.2, 1, 0.1, 1000);
        metrics.RoundCommitted("job", 1.5, 4.1, 2, 0.1, null);

        Assert.Equal(1000, CheckpointSize(metrics));
        metrics.RoundCommitted("job", 1.5, 4.0, 3, 0.1, 2000);
        Assert.Equal(2000, CheckpointSize(metrics));
    }

    private static long CheckpointSize(NodeMetrics metrics)
    {
        long size = -1;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, metrics) && instrument.Name == "moe_checkpoint_size")
                    l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => size = value);
        listener.Start();
        listener.RecordObservableInstruments();
        return size;
    }
}
