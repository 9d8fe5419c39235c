using Moe.Actors.Blobs;

namespace Moe.Actors.Training;

/// <summary>The round the coordinator is running (not persisted: an unfinished round is simply run again).</summary>
internal sealed class RoundInProgress(int round, string attempt, Dictionary<string, long> shards, ShardPlan planAfterAssign, DateTime started)
{
    /// <summary>The plan with this round's shards handed out; what is committed when the round is.</summary>
    public ShardPlan PlanAfterAssign { get; } = planAfterAssign;

    public int Round { get; } = round;

    public string Attempt { get; } = attempt;

    /// <summary>Trainers still expected to report, with their shard.</summary>
    public Dictionary<string, long> Expected { get; } = shards;

    /// <summary>Every shard handed out in this round, by trainer.</summary>
    public IReadOnlyDictionary<string, long> Assigned { get; } = new Dictionary<string, long>(shards);

    public Dictionary<string, RoundResult> Results { get; } = [];

    public DateTime Started { get; } = started;

    /// <summary>The global parameters the round starts from; null for an overlapped round until the round before it commits.</summary>
    public BlobRef? Parameters { get; set; }

    /// <summary>When the outer step started (the checkpoint's duration runs from here to the commit).</summary>
    public DateTime CommitStarted { get; set; }

    /// <summary>Every trainer reported and a quorum finished, but the round before is still committing.</summary>
    public bool ReadyToCommit { get; set; }

    public bool AllReported => Expected.Count == 0;

    /// <summary>Shards handed out whose trainer did not deliver a result: they go back to the plan.</summary>
    public IEnumerable<long> Unfinished => Assigned.Where(a => !Results.ContainsKey(a.Key)).Select(a => a.Value);

    /// <summary>The plan once this round commits: its unfinished shards handed back.</summary>
    public ShardPlan PlanAfterRound => PlanAfterAssign.GiveBack(Unfinished);
}
