namespace Moe.Model.Data;

/// <summary>
/// One writer at a time in a cache folder, across the threads of this process and across processes that share
/// the folder: the first trainer to need the corpus fetches and tokenises it, the others wait and read what it
/// wrote. The lock is an exclusive advisory lock on a file, which the operating system drops with its process.
/// </summary>
public static class CacheLock
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    /// <summary>Waits for the folder's lock (a fetch may take minutes) and holds it until disposed.</summary>
    public static IDisposable Acquire(string cacheDirectory, TimeSpan timeout)
    {
        Directory.CreateDirectory(cacheDirectory);
        var path = Path.Combine(cacheDirectory, ".lock");
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(Poll); // another trainer is filling the cache
            }
            catch (IOException e)
            {
                throw new IOException($"The cache {cacheDirectory} stayed locked for {timeout.TotalMinutes:F0} minutes by another trainer or process; delete {path} if none is running.", e);
            }
        }
    }
}
