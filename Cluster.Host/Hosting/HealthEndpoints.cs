using Akka.Actor;
using Akka.Cluster;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Moe.Actors.Hosting;
using Moe.Observability;

namespace Moe.Cluster.Host.Hosting;

/// <summary>
/// The node's HTTP endpoints for Kubernetes and Prometheus: /healthz (live: the actor system runs), /readyz
/// (ready: a member of the cluster that is Up and not shutting down) and /metrics.
/// </summary>
internal static class HealthEndpoints
{
    public static NodeWeb Web { get; } = new(
        (services, metrics) => services.AddMoeMetrics(metrics),
        app =>
        {
            app.MapMoeMetrics();
            app.MapGet("/healthz", (ActorSystem system) => system.WhenTerminated.IsCompleted
                ? Results.Text("terminated", statusCode: StatusCodes.Status503ServiceUnavailable)
                : Results.Text("live"));
            app.MapGet("/readyz", (ActorSystem system) =>
            {
                var shuttingDown = CoordinatedShutdown.Get(system).ShutdownReason is not null;
                var status = Akka.Cluster.Cluster.Get(system).SelfMember.Status;
                return !shuttingDown && status == MemberStatus.Up
                    ? Results.Text("ready")
                    : Results.Text($"not ready: member {status}{(shuttingDown ? ", shutting down" : "")}", statusCode: StatusCodes.Status503ServiceUnavailable);
            });
        });
}
