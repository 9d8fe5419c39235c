using Microsoft.Data.Sqlite;

namespace Moe.Actors.Hosting;

internal static class SqliteFile
{
    private const int Corrupt = 11, NotADatabase = 26; // SQLITE_CORRUPT, SQLITE_NOTADB

    public static string PathOf(string connectionString) =>
        Path.GetFullPath(new SqliteConnectionStringBuilder(connectionString).DataSource);

    /// <summary>
    /// Switches the database file to write-ahead logging (it stays so; the setting lives in the file). A commit
    /// then appends to the log instead of rewriting pages under a rollback journal, which cuts the latency of each
    /// persisted q, and readers no longer block the writer. Several nodes on one machine may share the file.
    /// </summary>
    public static void UseWriteAheadLog(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        if (Path.GetDirectoryName(Path.GetFullPath(builder.DataSource)) is { } folder)
            Directory.CreateDirectory(folder);
        try
        {
            using var connection = new SqliteConnection(connectionString);
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode = WAL;";
            command.ExecuteNonQuery();
        }
        catch (SqliteException e) when (e.SqliteErrorCode is NotADatabase or Corrupt)
        {
            throw new InvalidDataException(
                $"{PathOf(connectionString)} is not a usable SQLite database ({e.Message}): point --data-dir or Persistence:ConnectionString at the cluster's database, or move the file away to start afresh.", e);
        }
    }
}
