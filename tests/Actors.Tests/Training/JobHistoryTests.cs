using Moe.Actors.Blobs;
using Moe.Actors.Training;

namespace Moe.Actors.Tests.Training;

public sealed class JobHistoryTests
{
    private static readonly BlobRef Blob = BlobRef.Create(new string('b', 64), 10);
    private static readonly JobSpec Spec = new() { JobId = "j", Preset = "tiny", Rounds = 3 };

    private static RoundCommittedEvent Round(int round) =>
        new(round, Blob, Blob, ShardPlan.Start, [new PartStats("t0", 100, 5, 1, 0, 0, [0.1, 0.2], 0.3)], DateTime.UtcNow, 1);

    [Fact]
    public void Folds_the_start_and_the_rounds_in_order()
    {
        var history = JobHistory.From([new JobStartedEvent(Spec, Blob), Round(0), Round(1)]);

        Assert.NotNull(history);
        Assert.Equal([0, 1], history.Rounds.Select(r => r.Round));
        Assert.False(history.Finished);
        Assert.True(JobHistory.From([new JobStartedEvent(Spec, Blob), Round(0), Round(1), Round(2)])!.Finished);
    }

    [Fact]
    public void No_start_is_no_job_and_a_gap_or_a_round_before_the_start_is_damage()
    {
        Assert.Null(JobHistory.From([]));
        var early = Assert.Throws<InvalidDataException>(() => JobHistory.From([Round(0)]));
        var gap = Assert.Throws<InvalidDataException>(() => JobHistory.From([new JobStartedEvent(Spec, Blob), Round(0), Round(2)]));

        Assert.Contains("before the job's start", early.Message, StringComparison.Ordinal);
        Assert.Contains("round 2 where round 1 belongs", gap.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_rollback_takes_out_the_rounds_after_its_checkpoint_which_then_run_again()
    {
        var history = JobHistory.From([new JobStartedEvent(Spec, Blob), Round(0), Round(1), new RoundsRolledBackEvent(0, "round 1 damaged"), Round(1), Round(2)]);

        Assert.Equal([0, 1, 2], history!.Rounds.Select(r => r.Round));
        Assert.True(history.Finished);
        Assert.Equal("round 1 damaged", Assert.Single(history.Rollbacks).Problem);
    }

    [Fact]
    public async Task A_job_without_a_committed_round_or_whose_last_round_predates_the_model_folder_is_not_exported()
    {
        var store = new DirectoryBlobStore(Path.Combine(Path.GetTempPath(), "moe-export-" + Guid.NewGuid().ToString("N")));
        var none = JobHistory.From([new JobStartedEvent(Spec, Blob)])!;
        var legacy = JobHistory.From([new JobStartedEvent(Spec, Blob), Round(0)])!;

        var empty = await Assert.ThrowsAsync<ArgumentException>(() => ModelExport.WriteAsync(none, store, "unused", TestContext.Current.CancellationToken));
        var old = await Assert.ThrowsAsync<ArgumentException>(() => ModelExport.WriteAsync(legacy, store, "unused", TestContext.Current.CancellationToken));

        Assert.Contains("no committed round yet", empty.Message, StringComparison.Ordinal);
        Assert.Contains("earlier version", old.Message, StringComparison.Ordinal);
        Assert.True(ModelExport.IsExpected(empty));
    }
}
