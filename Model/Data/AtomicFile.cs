namespace Moe.Model.Data;

/// <summary>Writes whole files so that a reader sees the old content or the new, never half of the new.</summary>
public static class AtomicFile
{
    /// <summary>Writes to a temporary file beside the target, flushes it to disk, then renames it over the target.</summary>
    public static void Write(string path, ReadOnlySpan<byte> content)
    {
        var temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
                File.Delete(temporary);
        }
    }
}
