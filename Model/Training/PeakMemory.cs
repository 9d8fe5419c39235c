namespace Moe.Model.Training;

/// <summary>
/// This process's resident memory from /proc (Linux): the current size, and the peak since the last reset. A
/// measurement resets the peak, does its work, and reads how far the peak rose above where it started.
/// </summary>
public static class PeakMemory
{
    public static bool Available => File.Exists("/proc/self/status") && File.Exists("/proc/self/clear_refs");

    public static long ResidentBytes => Read("VmRSS:");

    public static long PeakBytes => Read("VmHWM:");

    /// <summary>Sets the peak to the current size (writing 5 to clear_refs).</summary>
    public static void Reset() => File.WriteAllText("/proc/self/clear_refs", "5");

    private static long Read(string field) =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(field, StringComparison.Ordinal))[field.Length..].Trim().Split(' ')[0],
            System.Globalization.CultureInfo.InvariantCulture) * 1024;
}
