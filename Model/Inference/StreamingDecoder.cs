using Moe.Model.Data;

namespace Moe.Model.Inference;

/// <summary>
/// Turns generated ids into text as they come, whole characters only: GPT-2's byte-level tokens can end inside a
/// UTF-8 character, which then decodes to a trailing U+FFFD. The ids since the last clean end are decoded together,
/// and only the text before such a trailing U+FFFD is given out: that prefix never changes as more bytes arrive.
/// </summary>
public sealed class StreamingDecoder(Vocabulary vocabulary)
{
    private readonly List<int> _pending = []; // GPT-2 ids since the text last ended on a whole character
    private int _given; // characters of their text already given out

    /// <summary>The text that <paramref name="id"/> completes; empty while a character is still partial.</summary>
    public string Append(int id)
    {
        var gpt2 = vocabulary.Gpt2Ids[id];
        if (gpt2 < 0)
            return Flush() + "?";
        _pending.Add(gpt2);
        var text = Vocabulary.DecodeGpt2(_pending);
        var whole = text.TrimEnd('\uFFFD').Length;
        if (whole == text.Length)
            return Flush();
        var piece = text[_given..Math.Max(_given, whole)];
        _given = Math.Max(_given, whole);
        return piece;
    }

    /// <summary>Whatever is pending, a partial character as U+FFFD (at the end of the stream).</summary>
    public string Flush()
    {
        var text = Vocabulary.DecodeGpt2(_pending);
        var piece = text[_given..];
        _pending.Clear();
        _given = 0;
        return piece;
    }
}
