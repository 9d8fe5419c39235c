using Npgsql;

namespace Moe.Actors.Hosting;

/// <summary>The configured database cannot be reached; the message names the server (never the password).</summary>
public sealed class DatabaseUnreachableException(string message, Exception inner) : IOException(message, inner);

/// <summary>
/// Reaches the journal's database before a node or a reader starts, so a wrong address or a server that is down
/// is one clear error instead of a stream of journal failures. PostgreSQL gets a few tries (a pod may start before
/// its database); SQLite needs nothing (a missing file is created, a damaged one is named when opened).
/// </summary>
public static class DatabaseCheck
{
    public static async Task EnsureReachableAsync(NodeSettings node, TimeSpan patience, CancellationToken cancellation)
    {
        if (node.Persistence.Provider != PersistenceProvider.PostgreSql)
            return;
        var connectionString = node.Persistence.ResolveConnectionString(node.DataDirectory);
        var deadline = DateTime.UtcNow + patience;
        for (var delay = TimeSpan.FromMilliseconds(250); ; delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks)))
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(cancellation);
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException && DateTime.UtcNow + delay < deadline)
            {
                await Task.Delay(delay, cancellation);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                var server = new NpgsqlConnectionStringBuilder(connectionString);
                throw new DatabaseUnreachableException(
                    $"PostgreSQL at {server.Host}:{server.Port}, database \"{server.Database}\", is unreachable (tried for {patience.TotalSeconds:F0} s: {e.GetBaseException().Message}): check Persistence:ConnectionString (--postgres) and that the server runs.", e);
            }
        }
    }
}
