namespace Moe.Actors.Hosting;

/// <summary>
/// One process per data directory: an exclusive lock on a file in it, held open for the process's life. The
/// operating system releases it when the process dies, so a stale lock is taken over by the next process without
/// anyone cleaning up. The holder writes its process id beside it for the message of whoever is refused.
/// </summary>
public sealed class DataDirectoryLock : IDisposable
{
    private const string LockFile = ".lock";
    private const string OwnerFile = ".owner";

    private readonly FileStream _held;

    private DataDirectoryLock(FileStream held) => _held = held;

    /// <exception cref="DataDirectoryInUseException">Another process holds the directory.</exception>
    public static DataDirectoryLock Acquire(string directory)
    {
        Directory.CreateDirectory(directory);
        FileStream held;
        try
        {
            // FileShare.None takes an exclusive advisory lock (flock) on Unix, which another open of the file fails on.
            held = new FileStream(Path.Combine(directory, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            var owner = File.Exists(Path.Combine(directory, OwnerFile)) ? File.ReadAllText(Path.Combine(directory, OwnerFile)).Trim() : "unknown";
            throw new DataDirectoryInUseException(
                $"Data directory {Path.GetFullPath(directory)} is in use by process {owner}: stop that process, or give this one another --data-dir.");
        }
        File.WriteAllText(Path.Combine(directory, OwnerFile), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return new DataDirectoryLock(held);
    }

    public void Dispose() => _held.Dispose();
}

/// <summary>Another process holds the data directory; the message names it and the holder.</summary>
public sealed class DataDirectoryInUseException(string message) : IOException(message);
