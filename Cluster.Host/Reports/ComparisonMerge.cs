using System.Globalization;

namespace Moe.Cluster.Host.Reports;

/// <summary>
/// Joins the reports of `compare` runs made in groups (methods that do not fit in memory together) into one: the
/// tables and the step log. The runs must share preset, seed, steps and T (their reports' titles), and name each
/// method once. Plots are not merged; each group's stay in its folder.
/// </summary>
public static class ComparisonMerge
{
    /// <returns>The files written into <paramref name="output"/>.</returns>
    public static IReadOnlyList<string> Write(IReadOnlyList<string> folders, string output)
    {
        if (folders.Count < 2)
            throw new ArgumentException("--merge needs two or more report folders, separated by commas.");
        var title = Single(folders, f => File.ReadLines(Path.Combine(f, "compare.md")).First(), "report titles (preset, seed, steps, T)");
        var table = Concatenated(folders, "compare.csv");
        var methods = table.Rows.Select(r => r.Split(',')[0]).ToList();
        if (methods.Distinct().Count() != methods.Count)
            throw new ArgumentException($"--merge: a method appears in more than one folder ({string.Join(", ", methods.GroupBy(m => m).Where(g => g.Count() > 1).Select(g => g.Key))}).");
        Directory.CreateDirectory(output);
        var columns = table.Header.Split(',');
        File.WriteAllLines(Path.Combine(output, "compare.csv"), [table.Header, .. table.Rows]);
        File.WriteAllText(Path.Combine(output, "compare.md"), title + " (merged; step time / topk compares within each group only)\n\n" +
            ComparisonReport.MarkdownTable(columns, table.Rows.Select(r => r.Split(','))));
        var steps = Concatenated(folders, "steps.csv");
        File.WriteAllLines(Path.Combine(output, "steps.csv"), [steps.Header, .. steps.Rows]);
        List<string> written = ["compare.md", "compare.csv", "steps.csv"];
        if (folders.All(f => File.Exists(Path.Combine(f, "expert-parallel.csv"))))
        {
            var setup = Single(folders, f => File.ReadLines(Path.Combine(f, "expert-parallel.md")).ElementAt(2), "expert-parallel setups");
            var parallel = Concatenated(folders, "expert-parallel.csv");
            File.WriteAllLines(Path.Combine(output, "expert-parallel.csv"), [parallel.Header, .. parallel.Rows]);
            File.WriteAllText(Path.Combine(output, "expert-parallel.md"), $"{title}: modelled expert-parallel MoE time per step, relative to perfect balance\n\n{setup}\n\n" +
                ParallelTable(parallel.Rows));
            written.AddRange(["expert-parallel.md", "expert-parallel.csv"]);
        }
        return written;
    }

    // Rows of method,ranks,placement,avg_maxvio_batch,mean,worst: the contiguous placement, one row per method.
    private static string ParallelTable(IReadOnlyList<string> rows)
    {
        var contiguous = rows.Select(r => r.Split(',')).Where(r => r[2] == "Contiguous").ToList();
        var degrees = contiguous.Select(r => r[1]).Distinct().ToList();
        string[] columns = ["method", "AvgMaxVio_batch", .. degrees.SelectMany(e => new[] { $"E={e} mean", $"E={e} worst" })];
        var table = contiguous.GroupBy(r => r[0]).Select(g => (string[])[g.Key, Fixed(g.First()[3]),
            .. degrees.SelectMany(e => g.Where(r => r[1] == e).SelectMany(r => new[] { Fixed(r[4]), Fixed(r[5]) }))]);
        return ComparisonReport.MarkdownTable(columns, table);

        static string Fixed(string value) => double.Parse(value, CultureInfo.InvariantCulture).ToString("F3", CultureInfo.InvariantCulture);
    }

    private static string Single(IReadOnlyList<string> folders, Func<string, string> read, string what)
    {
        var values = folders.Select(f => Read(f, read)).Distinct().ToList();
        return values.Count == 1 ? values[0] : throw new ArgumentException($"--merge: the runs differ in their {what}: {string.Join(" / ", values)}.");
    }

    private static (string Header, IReadOnlyList<string> Rows) Concatenated(IReadOnlyList<string> folders, string file)
    {
        var header = Single(folders, f => File.ReadLines(Path.Combine(f, file)).First(), $"{file} columns");
        return (header, [.. folders.SelectMany(f => Read(f, f => File.ReadLines(Path.Combine(f, file)).Skip(1).Where(l => l.Length > 0).ToList()))]);
    }

    private static T Read<T>(string folder, Func<string, T> read)
    {
        try
        {
            return read(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            throw new ArgumentException($"--merge: {folder} is not a readable compare report ({e.Message}).", e);
        }
    }
}
