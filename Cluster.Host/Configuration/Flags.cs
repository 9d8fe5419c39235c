using System.Globalization;

namespace Moe.Cluster.Host.Configuration;

/// <summary>Command-line flags as configuration keys: only the flags the user gave, so they override the rest.</summary>
internal sealed class Flags
{
    private readonly Dictionary<string, string?> _values = [];

    public IEnumerable<KeyValuePair<string, string?>> Values => _values;

    public Flags Set<T>(string key, T? value)
    {
        if (value is not null)
            _values[key] = Convert.ToString(value, CultureInfo.InvariantCulture);
        return this;
    }

    public Flags List(string key, IReadOnlyList<string>? values)
    {
        if (values is { Count: > 0 })
        {
            for (var k = 0; k < values.Count; k++)
                _values[$"{key}:{k}"] = values[k];
        }
        return this;
    }

    public Flags Postgres(string? connectionString) => connectionString is null
        ? this
        : Set("Persistence:Provider", "PostgreSql").Set("Persistence:ConnectionString", connectionString);

    /// <summary>A directory, an http(s) address of another node's blob store, or s3://bucket/prefix.</summary>
    public Flags Blobs(string? store) => store switch
    {
        null => this,
        _ when store.StartsWith("s3://", StringComparison.OrdinalIgnoreCase) => S3(store["s3://".Length..]),
        _ when store.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || store.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
            => Set("Blobs:Kind", "Http").Set("Blobs:Url", store),
        _ => Set("Blobs:Kind", "Directory").Set("Blobs:Directory", store),
    };

    // bucket or bucket/prefix; the endpoint and other options come from configuration (Blobs:S3).
    private Flags S3(string location)
    {
        var parts = location.Split('/', 2);
        var flags = Set("Blobs:Kind", "S3").Set("Blobs:S3:Bucket", parts[0]);
        return parts.Length == 2 ? flags.Set("Blobs:S3:Prefix", parts[1]) : flags;
    }
}
