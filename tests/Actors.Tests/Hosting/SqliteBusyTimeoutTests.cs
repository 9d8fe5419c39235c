using LinqToDB.Data;
using Microsoft.Data.Sqlite;
using Moe.Actors.Hosting;
using Moe.Actors.Tests.Support;
using Moe.Testing;

namespace Moe.Actors.Tests.Hosting;

public sealed class SqliteBusyTimeoutTests
{
    [Fact]
    public void Journal_connections_let_sqlite_wait_for_the_write_lock()
    {
        using var directory = new TempDirectory();
        var connectionString = $"Data Source={Path.Combine(directory.Path, "cluster.db")};Pooling=False";

        using (var plain = new SqliteConnection(connectionString))
        {
            plain.Open();
            using var command = plain.CreateCommand();
            command.CommandText = "PRAGMA busy_timeout;";
            Assert.Equal(0L, command.ExecuteScalar()); // Microsoft.Data.Sqlite's own answer: sleep 150 ms and retry
        }

        using var journal = new DataConnection(SqliteBusyTimeout.DataOptions(connectionString));
        Assert.Equal(30_000L, journal.Execute<long>("PRAGMA busy_timeout;"));
    }
}
