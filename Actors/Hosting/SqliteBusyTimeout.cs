using System.Data.Common;
using LinqToDB;
using LinqToDB.Interceptors;

namespace Moe.Actors.Hosting;

/// <summary>
/// Lets SQLite itself wait for a write lock held by another connection of the node (the journal and the snapshot
/// store write to the same file). Without it, Microsoft.Data.Sqlite answers SQLITE_BUSY by sleeping 150 ms
/// before it retries, which stalls every persisted q that meets a snapshot write; SQLite's own busy handler
/// retries within a millisecond or so.
/// </summary>
internal sealed class SqliteBusyTimeout : ConnectionInterceptor
{
    /// <summary>A write waits up to 30 s for the lock (Microsoft.Data.Sqlite's default command timeout).</summary>
    private const string Pragma = "PRAGMA busy_timeout = 30000;";

    /// <summary>linq2db options for the SQLite journal and snapshot store: the connection string and this interceptor.</summary>
    public static DataOptions DataOptions(string connectionString) => new DataOptions()
        .UseConnectionString(ProviderName.SQLiteMS, connectionString)
        .UseInterceptor(new SqliteBusyTimeout());

    public override void ConnectionOpened(ConnectionEventData eventData, DbConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragma;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(ConnectionEventData eventData, DbConnection connection,
        CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = Pragma;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
