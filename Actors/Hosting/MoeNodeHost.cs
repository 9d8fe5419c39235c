using System.Net;
using System.Net.Sockets;
using Akka.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moe.Actors.Blobs;
using Moe.Actors.Faults;
using Moe.Actors.Hosting.Bootstrap;
using Moe.Observability;

namespace Moe.Actors.Hosting;

/// <summary>A generic host running one cluster node (used by Cluster.Host, the tests and the benchmarks).</summary>
public static class MoeNodeHost
{
    /// <param name="boundPort">The port to bind; pass <see cref="FreePort"/> for <see cref="NodeSettings.Port"/> 0.</param>
    /// <param name="configure">Extra Akka configuration (tests swap the journal, benchmarks quieten logs).</param>
    /// <param name="web">Services and endpoints of the node's HTTP address (<see cref="NodeSettings.HttpUrl"/>).</param>
    public static IHost Build(NodeSettings settings, int boundPort, Action<AkkaConfigurationBuilder>? configure = null,
        Action<ILoggingBuilder>? logging = null, NodeWeb? web = null)
    {
        var metrics = new NodeMetrics();
        var failures = new NodeFailures(settings.MaxRetries, settings.DataDirectory,
            (system, persistenceId) => DamagedEntries.Find(system, settings, persistenceId, CancellationToken.None));

        void AddAkka(IServiceCollection services)
        {
            services.AddSingleton(metrics); // disposed with the host
            services.AddSingleton(failures);
            services.AddAkka(settings.SystemName, akka =>
            {
                akka.AddMoeNode(settings, boundPort, metrics, failures);
                configure?.Invoke(akka);
            });
        }

        string[] urls = [.. new[] { settings.HttpUrl, settings.Blobs.ServeUrl }.OfType<string>().Distinct()];
        if (urls.Length == 0)
        {
            var builder = Host.CreateApplicationBuilder();
            builder.Logging.ClearProviders();
            logging?.Invoke(builder.Logging);
            AddAkka(builder.Services);
            return builder.Build();
        }

        var webBuilder = WebApplication.CreateSlimBuilder();
        webBuilder.Logging.ClearProviders();
        logging?.Invoke(webBuilder.Logging);
        webBuilder.WebHost.UseUrls(urls);
        if (settings.Tls.Enabled)
        {
            webBuilder.WebHost.UseKestrelHttpsConfiguration(); // the slim builder leaves HTTPS out unless asked
            webBuilder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(https => https.ServerCertificate = settings.Tls.Load()));
        }
        // Before Akka: hosted services start in order, and metrics recorded before the meter provider listens are lost.
        web?.Services(webBuilder.Services, metrics);
        AddAkka(webBuilder.Services);
        var app = webBuilder.Build();
        // Each address serves only its own endpoints: the blob store (which takes uploads) is not reachable through
        // the management port that Prometheus and probes may reach from elsewhere, and vice versa.
        if (settings.Blobs.ServeUrl is { } serveUrl)
            app.MapGroup("").RequireHost($"*:{new Uri(serveUrl).Port}").MapBlobStore((DirectoryBlobStore)settings.Blobs.Create(settings.DataDirectory), BlobAccess.From(settings.Blobs));
        if (settings.HttpUrl is { } httpUrl)
        {
            var management = app.MapGroup("").RequireHost($"*:{new Uri(httpUrl).Port}");
            web?.Endpoints(management);
            if (settings.Discovery.Method == DiscoveryMethod.Kubernetes)
                management.MapBootstrap();
        }
        return app;
    }

    /// <summary>A free loopback port (there is a short race until it is bound; fine for tests and benchmarks).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>What a node's HTTP address serves besides blobs: metrics and health endpoints (see Cluster.Host).</summary>
public sealed record NodeWeb(Action<IServiceCollection, NodeMetrics> Services, Action<IEndpointRouteBuilder> Endpoints);
