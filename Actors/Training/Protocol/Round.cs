using System.Collections.Immutable;
using Moe.Actors.Blobs;

namespace Moe.Actors.Training.Protocol;

/// <summary>
/// A round the coordinator runs (not persisted: an unfinished round simply runs again). Immutable: the protocol
/// returns a new one for every change.
/// </summary>
/// <param name="Assigned">Every shard handed out in this round, by trainer.</param>
/// <param name="PlanAfterAssign">The shard plan with this round's shards handed out.</param>
/// <param name="Parameters">The global parameters the round starts from; null for an overlapped round until the round before it commits.</param>
public sealed record Round(
    int Number,
    string Attempt,
    ImmutableSortedDictionary<string, long> Assigned,
    ShardPlan PlanAfterAssign,
    DateTime Started,
    BlobRef? Parameters)
{
    /// <summary>Trainers still expected to report.</summary>
    public ImmutableSortedSet<string> Expected { get; init; } = Assigned.Keys.ToImmutableSortedSet(StringComparer.Ordinal);

    public ImmutableSortedDictionary<string, RoundResult> Results { get; init; } = ImmutableSortedDictionary.Create<string, RoundResult>(StringComparer.Ordinal);

    /// <summary>When the outer step started (the checkpoint's duration runs from here to the commit).</summary>
    public DateTime CommitStarted { get; init; }

    /// <summary>Every trainer reported and a quorum finished, but the round before is still committing.</summary>
    public bool ReadyToCommit { get; init; }

    public bool AllReported => Expected.IsEmpty;

    /// <summary>The plan once this round commits: the shards of trainers that delivered no result handed back.</summary>
    public ShardPlan PlanAfterRound => PlanAfterAssign.GiveBack(Assigned.Where(a => !Results.ContainsKey(a.Key)).Select(a => a.Value));

    /// <summary>The blobs of the deltas this round's results point at.</summary>
    public IEnumerable<BlobRef> Deltas => Results.Values.Select(r => r.Delta).OfType<BlobRef>();
}
