using System.Security.Cryptography;
using System.Text.Json;

namespace Moe.Model.IO;

/// <summary>
/// A folder that appears whole or not at all: its files are written under a temporary name beside it, each flushed
/// to disk, then <c>manifest.json</c> listing every file's size and SHA-256, then the folder is renamed into place.
/// A reader that finds no manifest is looking at something partial; one that finds it checks every file against it.
/// </summary>
public static class FolderManifest
{
    public const string FileName = "manifest.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    private sealed record Entry(string File, long Bytes, string Sha256);

    /// <summary>
    /// Writes <paramref name="final"/> through <paramref name="writeFiles"/> (given the staging folder), replacing a
    /// folder there only if it is empty or one this class wrote (it has a manifest): never a folder of other files.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="final"/> holds files and no manifest.</exception>
    public static string Publish(string final, Action<string> writeFiles)
    {
        final = Path.GetFullPath(final);
        if (Directory.Exists(final) && Directory.EnumerateFileSystemEntries(final).Any() && !File.Exists(Path.Combine(final, FileName)))
            throw new ArgumentException($"{final} holds files but no {FileName}: it is not a folder this program wrote, and it is left alone. Choose another folder.");
        var parent = Path.GetDirectoryName(final)!;
        Directory.CreateDirectory(parent);
        var staging = Directory.CreateDirectory(Path.Combine(parent, $".partial-{Guid.NewGuid():N}")).FullName;
        try
        {
            writeFiles(staging);
            var entries = Directory.GetFiles(staging).Order(StringComparer.Ordinal)
                .Select(f => new Entry(Path.GetFileName(f), new FileInfo(f).Length, Hash(f))).ToArray();
            WriteFile(staging, FileName, stream => JsonSerializer.Serialize(stream, entries, Json));
            if (Directory.Exists(final))
                Directory.Delete(final, recursive: true);
            Directory.Move(staging, final);
            return final;
        }
        finally
        {
            if (Directory.Exists(staging))
                Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Creates <paramref name="name"/> in <paramref name="folder"/> (it must not exist) and flushes it to disk.</summary>
    public static void WriteFile(string folder, string name, Action<Stream> write)
    {
        using var stream = new FileStream(Path.Combine(folder, name), FileMode.CreateNew, FileAccess.Write);
        write(stream);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>
    /// Checks that the manifest exists, lists every <paramref name="required"/> file, and that each file it lists has
    /// its recorded size and SHA-256; otherwise throws what <paramref name="refuse"/> makes of the problem.
    /// </summary>
    /// <param name="kind">What the folder should be ("checkpoint", "model folder"), for the messages.</param>
    public static void Verify(string folder, string kind, IEnumerable<string> required, Func<string, Exception> refuse)
    {
        Exception Refuse(string problem) => refuse($"{folder}: {problem}. Refusing to load it.");

        if (!Directory.Exists(folder))
            throw Refuse($"there is no such folder; give the folder of a {kind}");
        var manifest = Path.Combine(folder, FileName);
        if (!File.Exists(manifest))
            throw Refuse($"no {FileName}; the {kind} is partial or not a {kind}");
        Entry[] entries;
        try
        {
            entries = JsonSerializer.Deserialize<Entry[]>(File.ReadAllText(manifest), Json) ?? [];
        }
        catch (JsonException e)
        {
            throw Refuse($"{FileName} is damaged ({e.Message})");
        }
        foreach (var file in required)
        {
            if (!entries.Any(e => e.File == file))
                throw Refuse($"the manifest does not list {file}");
        }
        foreach (var entry in entries)
        {
            var path = Path.Combine(folder, entry.File);
            if (!File.Exists(path))
                throw Refuse($"{entry.File} is missing");
            if (new FileInfo(path).Length != entry.Bytes || Hash(path) != entry.Sha256)
                throw Refuse($"{entry.File} does not match its SHA-256 in the manifest (damaged or truncated)");
        }
    }

    private static string Hash(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
