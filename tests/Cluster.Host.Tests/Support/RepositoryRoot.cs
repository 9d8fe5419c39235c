namespace Moe.Cluster.Host.Tests.Support;

/// <summary>The checkout the tests run from (the folder holding Cluster.sln).</summary>
internal static class RepositoryRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(System.IO.Path.Combine(directory.FullName, "Cluster.sln")))
            directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("Cluster.sln not found above the test binaries.");
    }
}
