namespace Moe.Actors.Hosting;

public enum PersistenceProvider
{
    /// <summary>One SQLite file under the data directory: the embedded default.</summary>
    Sqlite,

    /// <summary>A PostgreSQL server shared by the cluster's nodes.</summary>
    PostgreSql,
}

/// <summary>Where journals and snapshots go. Bound from configuration (section "Persistence").</summary>
public sealed record PersistenceSettings
{
    public PersistenceProvider Provider { get; init; } = PersistenceProvider.Sqlite;

    /// <summary>
    /// For SQLite, a Microsoft.Data.Sqlite connection string (default: cluster.db in the data directory); for
    /// PostgreSQL, an Npgsql one (Host=...;Database=...;Username=...;Password=...). Never logged.
    /// </summary>
    public string? ConnectionString { get; init; }

    /// <summary>The connection string to use, with the SQLite default filled in.</summary>
    public string ResolveConnectionString(string dataDirectory) => Provider switch
    {
        PersistenceProvider.Sqlite => string.IsNullOrWhiteSpace(ConnectionString)
            ? $"Data Source={Path.Combine(dataDirectory, "cluster.db")}"
            : ConnectionString,
        _ => string.IsNullOrWhiteSpace(ConnectionString)
            ? throw new ArgumentException("Persistence:ConnectionString is required when Persistence:Provider is PostgreSql.")
            : ConnectionString,
    };

    /// <summary>The Linq2Db provider name of each database.</summary>
    public string ProviderName => Provider switch
    {
        PersistenceProvider.Sqlite => LinqToDB.ProviderName.SQLiteMS,
        _ => LinqToDB.ProviderName.PostgreSQL15,
    };
}
