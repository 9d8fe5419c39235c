using System.CommandLine;
using Moe.Actors.Hosting;
using Moe.Actors.Training;
using Moe.Cluster.Host.Configuration;

namespace Moe.Cluster.Host.Commands;

/// <summary>
/// The options of commands that read the job a cluster database records (`report`, `export`): where the database
/// and the blob store are. They need no running node.
/// </summary>
internal sealed class RecordedJobOptions
{
    private readonly Option<string?> _config = CommonOptions.Config();
    private readonly Option<string?> _dataDirectory = CommonOptions.DataDirectory();
    private readonly Option<string?> _postgres = CommonOptions.Postgres();
    private readonly Option<string?> _blobs = CommonOptions.Blobs();

    public void AddTo(Command command)
    {
        command.Options.Add(_config);
        command.Options.Add(_dataDirectory);
        command.Options.Add(_postgres);
        command.Options.Add(_blobs);
    }

    /// <summary>The node settings the options give, and the job recorded in their database.</summary>
    /// <param name="expected">The job the user named, if any: another job recorded there is bad input.</param>
    /// <exception cref="FileNotFoundException">The SQLite database does not exist.</exception>
    /// <exception cref="InvalidDataException">The database holds no job, or a damaged entry.</exception>
    /// <exception cref="ArgumentException">The options are invalid, or the database holds another job.</exception>
    public async Task<(NodeSettings Settings, JobHistory History)> ReadAsync(ParseResult result, string? expected, CancellationToken cancellation)
    {
        var flags = new Flags()
            .Set("Node:DataDirectory", result.GetValue(_dataDirectory))
            .Postgres(result.GetValue(_postgres))
            .Blobs(result.GetValue(_blobs));
        var settings = HostConfiguration.Node(HostConfiguration.Build(result.GetValue(_config), flags.Values));
        var history = await JobRecords.ReadAsync(settings, cancellation);
        if (expected is not null && expected != history.Spec.JobId)
            throw new ArgumentException($"the database holds job \"{history.Spec.JobId}\", not \"{expected}\" (one job per cluster database).");
        return (settings, history);
    }
}
