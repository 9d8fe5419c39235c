using System.CommandLine;
using Moe.Actors.Hosting;
using Moe.Cluster.Host.Configuration;
using Moe.Cluster.Host.Hosting;

namespace Moe.Cluster.Host.Commands;

/// <summary>`node`: one member of a multi-process or multi-machine cluster, until Ctrl-C or SIGTERM.</summary>
public static class NodeCommand
{
    public static Command Create()
    {
        var config = CommonOptions.Config();
        var roles = new Option<string?>("--roles") { Description = $"Comma-separated roles of this node: {string.Join(", ", NodeRoles.All)} (default: all)." };
        var seeds = new Option<string[]>("--seed") { Description = "HOST:PORT of a seed node (repeat for several); none: this node forms a new cluster.", AllowMultipleArgumentsPerToken = false };
        var host = new Option<string?>("--host") { Description = "Address to bind Akka.Remote to (default 127.0.0.1)." };
        var publicHost = new Option<string?>("--public-host") { Description = "Address other nodes use to reach this one, when it differs from --host." };
        var port = new Option<int?>("--port") { Description = "Akka.Remote port (default 4053; 0 picks a free one)." };
        var dataDirectory = CommonOptions.DataDirectory();
        var postgres = new Option<string?>("--postgres") { Description = "PostgreSQL connection string (Npgsql form); default: SQLite in the data directory." };
        var blobs = new Option<string?>("--blobs") { Description = "Blob store: a directory (shared volume) or the http:// address of the coordinator node's store." };
        var serveBlobs = new Option<string?>("--serve-blobs") { Description = "Serve this node's blob directory over HTTP at this address, e.g. http://0.0.0.0:8080." };
        var device = CommonOptions.Device();
        var http = CommonOptions.Http();
        var trainers = CommonOptions.Trainers();

        var command = new Command("node", "Join (or form) a cluster with the given roles and run until stopped.")
        {
            config, roles, seeds, host, publicHost, port, dataDirectory, postgres, blobs, serveBlobs, device, trainers, http,
        };
        command.SetAction(async (result, cancellation) =>
        {
            var output = result.InvocationConfiguration.Output;
            var error = result.InvocationConfiguration.Error;
            NodeSettings settings;
            try
            {
                var flags = new Flags()
                    .List("Node:Roles", result.GetValue(roles)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    .List("Node:Seeds", result.GetValue(seeds))
                    .Set("Node:Hostname", result.GetValue(host))
                    .Set("Node:PublicHostname", result.GetValue(publicHost))
                    .Set("Node:Port", result.GetValue(port))
                    .Set("Node:DataDirectory", result.GetValue(dataDirectory))
                    .Set("Trainer:Device", result.GetValue(device))
                    .Set("Node:HttpUrl", result.GetValue(http))
                    .Set("Trainer:Count", result.GetValue(trainers))
                    .Set("Blobs:ServeUrl", result.GetValue(serveBlobs))
                    .Postgres(result.GetValue(postgres))
                    .Blobs(result.GetValue(blobs));
                settings = HostConfiguration.Node(HostConfiguration.Build(result.GetValue(config), flags.Values));
            }
            catch (ArgumentException e)
            {
                await error.WriteLineAsync($"error: {Cli.Describe(e)}");
                return ExitCodes.BadInput;
            }

            await using var node = await RunningNode.StartAsync(settings, "INFO", cancellation);
            await output.WriteLineAsync($"Node {node.Address} with roles [{string.Join(", ", settings.Roles)}] " +
                (settings.Seeds.Count == 0 ? "forms a new cluster." : $"joins the cluster of {string.Join(", ", settings.Seeds)}."));
            try
            {
                await node.WaitUpAsync(TimeSpan.FromMinutes(2), cancellation);
                await output.WriteLineAsync("Member of the cluster. Ctrl-C or SIGTERM leaves it cleanly.");
                await Task.Delay(Timeout.Infinite, cancellation);
            }
            catch (OperationCanceledException)
            {
            }
            catch (InvalidOperationException e)
            {
                await error.WriteLineAsync($"error: {e.Message}");
                return ExitCodes.Failure;
            }
            await output.WriteLineAsync("Leaving the cluster (coordinated shutdown) ...");
            await node.DisposeAsync();
            await output.WriteLineAsync("Stopped.");
            return ExitCodes.Success;
        });
        return command;
    }
}
