namespace Moe.Model.Data;

/// <summary>Where training text comes from: the user's text when given, else the Brown Corpus.</summary>
public static class Corpus
{
    /// <summary>Loads (or reads from the cache) the tokenised dataset; logs what was loaded and skipped.</summary>
    public static TokenDataset Load(string? textPath, string cacheDirectory, int vocabSize, Action<string> log)
    {
        using var single = CacheLock.Acquire(cacheDirectory, TimeSpan.FromMinutes(30)); // one fetch and one tokenisation per cache
        IReadOnlyList<string> documents;
        TextLoadReport? report = null;
        if (textPath is null)
        {
            documents = BrownCorpus.Load(cacheDirectory, log);
            log($"Corpus: Brown Corpus ({BrownCorpus.Package}@{BrownCorpus.Version}), {documents.Count} documents.");
        }
        else
        {
            (documents, report) = TextSources.Load(textPath);
            log($"Corpus: {textPath}: {report}.");
            foreach (var problem in report.Problems.Take(5))
                log($"  skipped {problem}");
            if (report.Problems.Count > 5)
                log($"  ... and {report.Problems.Count - 5} more");
        }
        var dataset = TokenDataset.LoadOrBuild(documents, vocabSize, cacheDirectory, report, log);
        log($"Tokens: {dataset.Train.Length:N0} train, {dataset.Validation.Length:N0} validation, vocabulary {dataset.VocabSize:N0}.");
        return dataset;
    }
}
