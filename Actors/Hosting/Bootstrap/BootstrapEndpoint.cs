using Akka.Actor;
using Akka.Cluster;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Moe.Actors.Hosting.Bootstrap;

/// <summary>The answer of a node to a bootstrapping peer: its own address and the Up members of its cluster.</summary>
public sealed record SeedNodesAnswer(string Self, string[] Members);

/// <summary>GET /bootstrap/seed-nodes on the node's management address: what peers probe while they bootstrap.</summary>
public static class BootstrapEndpoint
{
    public const string Path = "/bootstrap/seed-nodes";

    public static IEndpointRouteBuilder MapBootstrap(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, (ActorSystem system) =>
        {
            var cluster = Akka.Cluster.Cluster.Get(system);
            var joined = cluster.SelfMember.Status is MemberStatus.Up or MemberStatus.WeaklyUp;
            string[] members = joined
                ? [.. cluster.State.Members.Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp).Select(m => m.Address.ToString())]
                : [];
            return Results.Json(new SeedNodesAnswer(cluster.SelfAddress.ToString(), members));
        });
        return app;
    }
}
