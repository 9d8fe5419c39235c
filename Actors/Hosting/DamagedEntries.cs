using System.Runtime.Serialization;
using Akka.Actor;
using LinqToDB;
using LinqToDB.Data;

namespace Moe.Actors.Hosting;

/// <summary>
/// Finds which stored entry of a persistent actor does not read back. Akka's replay fails as a whole and names none,
/// so this reads the actor's rows of Akka.Persistence.Sql's tables (journal, snapshot) and deserializes each.
/// </summary>
public static class DamagedEntries
{
    /// <returns>"sequence number N" (or "the snapshot at sequence number N"), or null if every entry reads back.</returns>
    public static async Task<string?> Find(ActorSystem system, NodeSettings node, string persistenceId, CancellationToken cancellation)
    {
        var persistence = node.Persistence;
        var connectionString = persistence.ResolveConnectionString(node.DataDirectory);
        var options = persistence.Provider == PersistenceProvider.Sqlite
            ? SqliteBusyTimeout.DataOptions(connectionString)
            : new DataOptions().UseConnectionString(persistence.ProviderName, connectionString);
        await using var db = new DataConnection(options);
        var id = new DataParameter("id", persistenceId, DataType.NVarChar);
        var events = await new CommandInfo(db, "select sequence_number, identifier, manifest, message from journal where persistence_id = @id order by sequence_number", id)
            .QueryToListAsync(Row, cancellation);
        if (events.FirstOrDefault(e => !ReadsBack(system, e)) is { } damaged)
            return $"sequence number {damaged.SequenceNr}";
        var snapshots = await new CommandInfo(db, "select sequence_number, serializer_id, manifest, snapshot from snapshot where persistence_id = @id order by sequence_number", id)
            .QueryToListAsync(Row, cancellation);
        return snapshots.FirstOrDefault(s => !ReadsBack(system, s)) is { } snapshot ? $"the snapshot at sequence number {snapshot.SequenceNr}" : null;
    }

    private static Entry Row(System.Data.Common.DbDataReader reader) =>
        new(reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetInt32(1), reader.IsDBNull(2) ? "" : reader.GetString(2), (byte[])reader.GetValue(3));

    private static bool ReadsBack(ActorSystem system, Entry entry)
    {
        if (entry.Serializer is not { } serializer)
            return true; // not one of ours: Akka's own
        try
        {
            system.Serialization.Deserialize(entry.Payload, serializer, entry.Manifest);
            return true;
        }
        catch (SerializationException)
        {
            return false;
        }
    }

    private sealed record Entry(long SequenceNr, int? Serializer, string Manifest, byte[] Payload);
}
