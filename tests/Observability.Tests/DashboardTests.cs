using System.Text.Json;
using System.Text.RegularExpressions;

namespace Moe.Observability.Tests;

public sealed partial class DashboardTests
{
    private static readonly string DashboardPath = Path.Combine(AppContext.BaseDirectory, "dashboards", "moe-cluster.json");

    [GeneratedRegex(@"\bmoe_[a-z_]+\b")]
    private static partial Regex MetricName();

    private static List<string> Expressions()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(DashboardPath));
        return [.. document.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray())
            .Select(t => t.GetProperty("expr").GetString()!)];
    }

    [Fact]
    public void Every_metric_the_dashboard_queries_is_one_the_program_exports()
    {
        var exported = ExportedMetrics.Names();
        var queried = Expressions().SelectMany(e => MetricName().Matches(e).Select(m => m.Value)).ToHashSet();

        Assert.NotEmpty(queried);
        Assert.All(queried, name => Assert.Contains(name, exported));
    }

    [Fact]
    public void The_dashboard_shows_what_operators_need_to_see()
    {
        var all = string.Join('\n', Expressions());
        foreach (var needed in new[]
        {
            "moe_layer_max_vio", "moe_expert_load", "moe_expert_price", "moe_training_loss", "moe_tokens_total",
            "moe_step_duration_seconds_bucket", "moe_round_duration_seconds_bucket", "moe_cluster_members",
            "moe_trainer_joins_total", "moe_trainer_leaves_total", "moe_balancer_summaries_total",
            "moe_round_parameters_wait_seconds_bucket", "moe_skipped_steps_total", "moe_balancer_edge_share",
        })
        {
            Assert.Contains(needed, all, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Exported_names_follow_the_prometheus_conventions_of_the_design()
    {
        foreach (var name in ExportedMetrics.Names())
        {
            Assert.StartsWith("moe_", name, StringComparison.Ordinal);
            Assert.DoesNotContain("_total_", name, StringComparison.Ordinal);
        }
    }
}
