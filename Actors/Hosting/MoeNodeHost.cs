using System.Net;
using System.Net.Sockets;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Moe.Actors.Hosting;

/// <summary>A generic host running one cluster node (used by Cluster.Host, the tests and the benchmarks).</summary>
public static class MoeNodeHost
{
    /// <param name="boundPort">The port to bind; pass <see cref="FreePort"/> for <see cref="NodeSettings.Port"/> 0.</param>
    /// <param name="configure">Extra Akka configuration (tests swap the journal, benchmarks quieten logs).</param>
    public static IHost Build(NodeSettings settings, int boundPort, Action<AkkaConfigurationBuilder>? configure = null,
        Action<ILoggingBuilder>? logging = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        logging?.Invoke(builder.Logging);
        builder.Services.AddAkka(settings.SystemName, akka =>
        {
            akka.AddMoeNode(settings, boundPort);
            configure?.Invoke(akka);
        });
        return builder.Build();
    }

    /// <summary>A free loopback port (there is a short race until it is bound; fine for tests and benchmarks).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
