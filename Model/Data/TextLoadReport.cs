namespace Moe.Model.Data;

/// <summary>What loading a text source kept and what it skipped, and why: nothing is dropped silently.</summary>
public sealed record TextLoadReport(int Documents, int SkippedEmpty, int SkippedInvalidUtf8, int SkippedMalformed,
    IReadOnlyList<string> Problems)
{
    public int Skipped => SkippedEmpty + SkippedInvalidUtf8 + SkippedMalformed;

    public override string ToString() =>
        $"{Documents} documents; skipped {SkippedEmpty} empty, {SkippedInvalidUtf8} not UTF-8, {SkippedMalformed} malformed";
}
