using System.CommandLine;

namespace Moe.Cluster.Host.Commands;

/// <summary>Options several commands share, described once.</summary>
internal static class CommonOptions
{
    public static Option<string?> Config() => new("--config")
    {
        Description = "JSON settings file (default: appsettings.json in the current folder, if any). Environment variables MOE_Section__Key override it; flags override both.",
    };

    public static Option<string?> DataDirectory() => new("--data-dir")
    {
        Description = "Data directory: SQLite database, blobs, corpus cache (default: data).",
    };

    public static Option<string?> Postgres() => new("--postgres")
    {
        Description = "PostgreSQL connection string (Npgsql form); default: SQLite in the data directory.",
    };

    public static Option<string?> Blobs() => new("--blobs")
    {
        Description = "Blob store: a directory (shared volume), the http:// address of the coordinator node's store, or s3://BUCKET/PREFIX (endpoint and options in Blobs:S3).",
    };

    public static Option<string?> Device() => new("--device") { Description = "Trainer device: auto, cpu, cuda or cuda:N (default auto)." };

    public static Option<string?> Http() => new("--http")
    {
        Description = "Serve /metrics (Prometheus), /healthz and /readyz at this address, e.g. http://0.0.0.0:9464 (default: not served).",
    };

    public static Option<int?> Trainers() => new("--trainers")
    {
        Description = "Trainer actors on this node; 0: one per GPU, else one per core (default: 1 for node, 0 for train).",
    };
}
