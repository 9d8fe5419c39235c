using Moe.Model.Data;

namespace Moe.Model.Inference;

/// <summary>
/// Turns generated ids into text as they come, whole characters only: GPT-2's byte-level tokens can end inside a
/// UTF-8 character, and such tokens wait (at most the four a character can span) until the character is whole.
/// </summary>
public sealed class StreamingDecoder(Vocabulary vocabulary)
{
    private const int MaxBytesPerCharacter = 4;
    private readonly List<int> _pending = [];

    /// <summary>The text that <paramref name="id"/> completes; empty while a character is still partial.</summary>
    public string Append(int id)
    {
        var gpt2 = vocabulary.Gpt2Ids[id];
        if (gpt2 < 0)
            return Flush() + "?";
        _pending.Add(gpt2);
        var text = Vocabulary.DecodeGpt2(_pending);
        if (text.EndsWith('\uFFFD') && _pending.Count < MaxBytesPerCharacter)
            return "";
        _pending.Clear();
        return text;
    }

    /// <summary>Whatever is pending, even a partial character (at the end of the stream).</summary>
    public string Flush()
    {
        var text = Vocabulary.DecodeGpt2(_pending);
        _pending.Clear();
        return text;
    }
}
