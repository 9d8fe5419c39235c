using System.Text;
using System.Text.Json;

namespace Moe.Model.Data;

/// <summary>
/// User text: one .txt file, a folder of .txt files (sorted by name), or JSON lines with a "text" field
/// (.jsonl). Empty documents, bytes that are not UTF-8 and malformed lines are skipped and counted.
/// </summary>
public static class TextSources
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static (IReadOnlyList<string> Documents, TextLoadReport Report) Load(string path)
    {
        var documents = new List<string>();
        var problems = new List<string>();
        int empty = 0, invalid = 0, malformed = 0;

        void Add(string text, string origin)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                empty++;
                problems.Add($"{origin}: empty");
            }
            else
            {
                documents.Add(text);
            }
        }

        string? Read(string file)
        {
            try
            {
                return StrictUtf8.GetString(File.ReadAllBytes(file));
            }
            catch (DecoderFallbackException e)
            {
                invalid++;
                problems.Add($"{file}: not valid UTF-8 ({e.Message})");
                return null;
            }
        }

        if (Directory.Exists(path))
        {
            var files = Directory.GetFiles(path, "*.txt", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
            if (files.Length == 0)
                throw new ArgumentException($"{path}: the folder holds no .txt files.", nameof(path));
            foreach (var file in files)
            {
                if (Read(file) is { } text)
                    Add(text, file);
            }
        }
        else if (File.Exists(path))
        {
            var text = Read(path);
            if (text is not null && path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
            {
                var lineNumber = 0;
                foreach (var line in text.Split('\n'))
                {
                    lineNumber++;
                    if (line.Trim().Length == 0)
                        continue;
                    if (ParseLine(line) is { } document)
                    {
                        Add(document, $"{path}:{lineNumber}");
                    }
                    else
                    {
                        malformed++;
                        problems.Add($"{path}:{lineNumber}: not a JSON object with a string \"text\" field");
                    }
                }
            }
            else if (text is not null)
            {
                Add(text, path);
            }
        }
        else
        {
            throw new ArgumentException($"{path}: no such file or folder.", nameof(path));
        }

        var report = new TextLoadReport(documents.Count, empty, invalid, malformed, problems);
        if (documents.Count == 0)
            throw new ArgumentException($"{path}: no usable text ({report}).", nameof(path));
        return (documents, report);
    }

    private static string? ParseLine(string line)
    {
        try
        {
            using var json = JsonDocument.Parse(line);
            return json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("text", out var text)
                && text.ValueKind == JsonValueKind.String
                ? text.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
