using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moe.Actors.Training;

namespace Moe.Actors.Hosting;

/// <summary>
/// Opens a node's database without joining a cluster and reads the job recorded there: reports of a finished or
/// stopped job need neither a running coordinator nor its logs.
/// </summary>
public static class JobRecords
{
    /// <exception cref="FileNotFoundException">The SQLite database does not exist (wrong data directory).</exception>
    /// <exception cref="InvalidDataException">The database holds no job.</exception>
    public static async Task<JobHistory> ReadAsync(NodeSettings node, CancellationToken cancellation)
    {
        var persistence = node.Persistence;
        if (persistence.Provider == PersistenceProvider.Sqlite)
        {
            var file = SqliteFile.PathOf(persistence.ResolveConnectionString(node.DataDirectory));
            if (!File.Exists(file))
                throw new FileNotFoundException($"No job records: {file} does not exist. Pass the --data-dir of the job (or its Persistence settings).", file);
        }

        await DatabaseCheck.EnsureReachableAsync(node, TimeSpan.FromSeconds(5), cancellation);
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddAkka(node.SystemName, akka => akka
            .AddHocon("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING", HoconAddMode.Prepend)
            .WithMoeSerializer()
            .WithMoePersistence(node));
        using var host = builder.Build();
        await host.StartAsync(cancellation);
        try
        {
            return await JobHistory.ReadAsync(host.Services.GetRequiredService<ActorSystem>(), cancellation)
                ?? throw new InvalidDataException($"No job is recorded in {Describe(node)}: start one with train or node --job-id.");
        }
        catch (Exception e) when (e.GetBaseException() is System.Runtime.Serialization.SerializationException damaged)
        {
            throw new InvalidDataException($"The job journal ({TrainingCoordinator.JournalId}) in {Describe(node)} holds a damaged entry: {damaged.Message}", e);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    private static string Describe(NodeSettings node) => node.Persistence.Provider == PersistenceProvider.Sqlite
        ? SqliteFile.PathOf(node.Persistence.ResolveConnectionString(node.DataDirectory))
        : "the PostgreSQL database";
}
