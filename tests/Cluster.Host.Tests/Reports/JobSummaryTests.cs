using Moe.Actors.Blobs;
using Moe.Actors.Training;
using Moe.Cluster.Host.Reports;

namespace Moe.Cluster.Host.Tests.Reports;

public sealed class JobSummaryTests
{
    private static readonly BlobRef Blob = BlobRef.Create(new string('c', 64), 10);
    private static readonly DateTime Start = new(2026, 11, 28, 12, 0, 0, DateTimeKind.Utc);

    private static PartStats Part(string trainer, double stepSeconds, double waitSeconds, double maxVio) =>
        new(trainer, 1000, 4, stepSeconds, waitSeconds, 0, [maxVio, maxVio / 2], maxVio * 2);

    private static RoundCommittedEvent Round(int round, double seconds, params PartStats[] parts) =>
        new(round, Blob, Blob, ShardPlan.Start, parts, Start.AddSeconds(10 * (round + 1)), seconds);

    private static JobHistory History(params RoundCommittedEvent[] rounds) =>
        new(new JobSpec { JobId = "j", Preset = "tiny", Rounds = 5 }, Blob, rounds);

    [Fact]
    public void Joins_leaves_throughput_and_wait_share_come_from_the_recorded_parts()
    {
        var history = History(
            Round(0, 2, Part("a", 1, 1, 0.2), Part("b", 2, 0, 0.4)),
            Round(1, 2, Part("a", 1, 0, 0.2), Part("c", 4, 0, 0.2)), // b left, c joined
            Round(2, 4, Part("b", 1, 0, 0.2), Part("c", 4, 0, 0.2))); // a left, b came back

        var s = JobSummary.Of(history);

        Assert.Equal((2, 2), (s.Joins, s.Leaves));
        Assert.Equal(6000, s.Tokens);
        Assert.Equal(6000 / 8.0, s.TokensPerSecond, 9);
        Assert.Equal(30 - 8, s.ElapsedSeconds, 9); // first round started 2 s before its commit at +10 s; last commit at +30 s
        Assert.Equal(0.8, s.WorstMaxVio, 9);
        Assert.Equal(["a", "b", "c"], s.Trainers.Select(t => t.TrainerId));
        var a = s.Trainers[0];
        Assert.Equal((2, 2000L), (a.Rounds, a.Tokens));
        Assert.Equal(1000.0, a.TokensPerSecond, 9); // 2,000 tokens in 2 s of steps
        Assert.Equal(1 / 3.0, a.WaitShare, 9); // 1 s of 3 waiting for q
    }

    [Fact]
    public void Layer_max_vio_averages_the_trainers_that_measured_it_and_an_empty_job_has_no_figures()
    {
        var round = Round(0, 1, Part("a", 1, 0, 0.2), Part("b", 1, 0, 0.4), Part("old", 1, 0, 0.4) with { LayerMaxVio = [] });

        Assert.Equal([0.3, 0.15], JobReport.LayerMaxVio(round, 2).Select(v => Math.Round(v, 9)));
        Assert.True(double.IsNaN(JobSummary.Of(History()).TokensPerSecond));
        Assert.Contains("Not finished: 0 of 5 rounds", JobReport.Markdown(History(), JobSummary.Of(History()), null, []), StringComparison.Ordinal);
        Assert.Contains("| overlap | each round's first 1 step(s) run while the round before commits |", JobReport.Markdown(History(), JobSummary.Of(History()), null, []), StringComparison.Ordinal);
        var sequential = History() with { Spec = History().Spec with { OverlapSteps = 0 } };
        Assert.Contains("| overlap | none:", JobReport.Markdown(sequential, JobSummary.Of(sequential), null, []), StringComparison.Ordinal);
        Assert.Contains("| round data | stepped whole by the coordinator, deltas as float32 |", JobReport.Markdown(History(), JobSummary.Of(History()), null, []), StringComparison.Ordinal);
        var sliced = History() with { Spec = History().Spec with { Slices = 4, DeltaPrecision = Moe.Model.Training.Rounds.DeltaPrecision.Bf16 } };
        Assert.Contains("| round data | stepped in 4 slices by their owners, deltas as bfloat16 |", JobReport.Markdown(sliced, JobSummary.Of(sliced), null, []), StringComparison.Ordinal);
    }

    [Fact]
    public void The_markdown_of_a_long_job_lists_its_first_and_last_rounds_and_counts_the_middle()
    {
        var history = History([.. Enumerable.Range(0, 25).Select(k => Round(k, 1, Part("a", 1, 0, 0.2)))]);

        var rows = JobReport.Markdown(history, JobSummary.Of(history), null, []).Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal)).ToList();

        Assert.Contains(rows, r => r.StartsWith("| 9 | 1 |", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.StartsWith("| 15 | 1 |", StringComparison.Ordinal));
        Assert.DoesNotContain(rows, r => r.StartsWith("| 10 | 1 |", StringComparison.Ordinal) || r.StartsWith("| 14 | 1 |", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.Contains("5 more rounds in rounds.csv", StringComparison.Ordinal));
    }
}
