namespace Moe.Testing;

/// <summary>A small seeded text file to train on: enough sequences of the tiny preset for a few rounds of several trainers.</summary>
public static class SampleText
{
    private static readonly string[] Words =
    [
        "the", "expert", "router", "balances", "tokens", "across", "layers", "while", "trainers", "join", "and", "leave",
        "a", "cluster", "of", "actors", "keeps", "its", "prices", "in", "order", "every", "step", "moves", "gradients",
        "quickly", "slowly", "model", "learns", "words", "from", "small", "stories", "about", "machines",
    ];

    /// <summary>Writes <paramref name="sentences"/> sentences of 6 to 13 words to <paramref name="directory"/>/text.txt and returns its path.</summary>
    public static string Write(string directory, int sentences = 2000, int seed = 5)
    {
        var random = new Random(seed);
        var lines = Enumerable.Range(0, sentences).Select(_ =>
            string.Join(' ', Enumerable.Range(0, random.Next(6, 14)).Select(_ => Words[random.Next(Words.Length)])) + ".");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "text.txt");
        File.WriteAllLines(path, lines);
        return path;
    }
}
