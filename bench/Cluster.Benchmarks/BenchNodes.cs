using Akka.Hosting;
using Moe.Actors.Hosting;
using Moe.Testing;

namespace Moe.Benchmarks;

/// <summary>Cluster nodes as benchmarks run them: quiet unless something goes wrong, with production's failure detection.</summary>
internal static class BenchNodes
{
    /// <param name="hocon">Extra Akka settings; MOE_BENCH_HOCON adds more, to try a setting without a rebuild.</param>
    /// <param name="port">The port to bind; 0 picks a free one.</param>
    public static Task<ClusterNode> StartAsync(NodeSettings settings, string? hocon = null, int port = 0) =>
        ClusterNode.StartAsync(settings with { Port = port },
            akka => akka.AddHocon(hocon + "\n" + Environment.GetEnvironmentVariable("MOE_BENCH_HOCON"), HoconAddMode.Prepend),
            logLevel: Environment.GetEnvironmentVariable("MOE_BENCH_LOG") ?? "ERROR", productionDowning: true);
}
