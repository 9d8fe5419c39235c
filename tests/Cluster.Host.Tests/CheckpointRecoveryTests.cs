using Moe.Actors.Blobs;
using Moe.Actors.Hosting;
using Moe.Actors.Training;
using Moe.Testing;

namespace Moe.Cluster.Host.Tests;

/// <summary>A job whose latest checkpoint is damaged or gone goes on from the newest kept one that reads back.</summary>
[Trait("Category", "Integration")]
public sealed class CheckpointRecoveryTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Data => Path.Combine(_temp.Path, "data");

    private async Task<(int Code, string Output, string Error)> Train(int rounds, CancellationToken cancellation, params string[] flags)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var code = await Cli.RunAsync(["train", "--preset", "tiny", "--rounds", $"{rounds}", "--inner-steps", "2", "--trainers", "1",
            "--text", SampleText.Write(_temp.Path), "--data-dir", Data, .. flags], TextWriter.Synchronized(output), TextWriter.Synchronized(error), cancellation);
        return (code, output.ToString(), error.ToString());
    }

    private Task<JobHistory> History() => JobRecords.ReadAsync(new NodeSettings { DataDirectory = Data }, TestContext.Current.CancellationToken);

    private async Task<int> Committed()
    {
        try
        {
            return (await History()).Rounds.Count;
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
        {
            return 0; // no database or no job yet
        }
    }

    private const int Rounds = 40;

    /// <summary>Trains until two rounds are committed, then stops the job as Ctrl-C would (long before its end).</summary>
    private async Task TwoRoundsOrMore(params string[] flags)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var train = Train(Rounds, stop.Token, flags);
        await Eventually.Until(async () => await Committed() >= 2, TimeSpan.FromSeconds(120), "two committed rounds", TestContext.Current.CancellationToken);
        await stop.CancelAsync();
        await train;
    }

    [Fact]
    public async Task A_damaged_latest_checkpoint_is_quarantined_and_the_job_finishes_from_the_one_before()
    {
        await TwoRoundsOrMore();
        var before = await History();
        var store = new DirectoryBlobStore(Path.Combine(Data, "blobs"));
        var latest = store.PathOf(before.Rounds[^1].Parameters);
        var bytes = File.ReadAllBytes(latest);
        bytes[bytes.Length / 2] ^= 0x20;
        File.WriteAllBytes(latest, bytes);

        var (code, output, error) = await Train(Rounds, TestContext.Current.CancellationToken);

        Assert.True(code == 0, error + output);
        var after = await History();
        // Every round once: the damaged one ran again. The message carries what a rare failure needs to be understood.
        var rounds = after.Rounds.Select(r => r.Round).ToList();
        Assert.True(rounds.SequenceEqual(Enumerable.Range(0, Rounds)),
            $"rounds {string.Join(",", rounds)}; rollbacks: {string.Join("; ", after.Rollbacks.Select(r => $"to {r.ToRound}: {r.Problem}"))}; train printed: {output}");
        var rollback = Assert.Single(after.Rollbacks);
        Assert.Equal(before.Rounds.Count - 2, rollback.ToRound);
        Assert.Contains($"round {before.Rounds.Count - 1}: parameters {before.Rounds[^1].Parameters.Sha256} is damaged", rollback.Problem, StringComparison.Ordinal);
        Assert.Single(Directory.GetFiles(store.QuarantineFolder)); // the damaged bytes are kept
    }

    [Fact]
    public async Task A_job_stepped_in_slices_quarantines_a_damaged_slice_goes_on_from_the_round_before_keeps_only_its_kept_rounds_and_leaves_a_model()
    {
        string[] flags = ["--slices", "2", "--delta-precision", "bf16"];
        await TwoRoundsOrMore(flags);
        var before = await History();
        Assert.Equal((2, Moe.Model.Training.Rounds.DeltaPrecision.Bf16), (before.Spec.Slices, before.Spec.DeltaPrecision));
        var store = new DirectoryBlobStore(Path.Combine(Data, "blobs"));
        var index = before.Rounds[^1].Parameters;
        var slices = await Moe.Actors.Training.Slices.SlicedBlobs.ReadIndexAsync(store, index, TestContext.Current.CancellationToken);
        Assert.Equal(2, slices.Count);
        var latest = store.PathOf(slices[1]);
        var bytes = File.ReadAllBytes(latest);
        bytes[bytes.Length / 2] ^= 0x20;
        File.WriteAllBytes(latest, bytes);

        var (code, output, error) = await Train(Rounds, TestContext.Current.CancellationToken, flags);

        Assert.True(code == 0, error + output);
        var after = await History();
        Assert.Equal(Enumerable.Range(0, Rounds), after.Rounds.Select(r => r.Round));
        var rollback = Assert.Single(after.Rollbacks);
        Assert.Equal(before.Rounds.Count - 2, rollback.ToRound);
        Assert.Contains($"parameters {index.Sha256} (slice {slices[1].Sha256}) is damaged", rollback.Problem, StringComparison.Ordinal);
        Assert.Single(Directory.GetFiles(store.QuarantineFolder));
        // What stays is the kept rounds' indexes and slices and the vocabulary; forty rounds of deltas and
        // checkpoints went as they fell out of use.
        var kept = new NodeSettings().Blobs.KeepRounds + 1;
        var stored = Directory.GetFiles(Path.Combine(Data, "blobs"), "*", SearchOption.AllDirectories).Count(f => !f.StartsWith(store.QuarantineFolder, StringComparison.Ordinal));
        Assert.InRange(stored, kept * 3, (kept * 3) + 2);
        Assert.True(File.Exists(Path.Combine(Data, "models", "train-tiny", Moe.Model.Inference.ModelFolder.Weights)), output);
    }

    [Fact]
    public async Task A_job_none_of_whose_kept_checkpoints_reads_back_stops_with_one_line_naming_them()
    {
        await TwoRoundsOrMore();
        var store = new DirectoryBlobStore(Path.Combine(Data, "blobs"));
        foreach (var round in (await History()).Rounds)
            await store.DeleteAsync(round.Parameters, TestContext.Current.CancellationToken);

        var (code, _, error) = await Train(Rounds, TestContext.Current.CancellationToken);

        Assert.Equal(ExitCodes.BadInput, code);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("no kept checkpoint of job train-tiny reads back", line, StringComparison.Ordinal);
        Assert.Contains("is missing", line, StringComparison.Ordinal);
    }

    /// <summary>Flips one byte of the coordinator's newest event (a round's: one of its figures would change).</summary>
    /// <returns>The entry's sequence number.</returns>
    private long DamageNewestEvent()
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(Data, "cluster.db")};Pooling=False");
        connection.Open();
        using var read = connection.CreateCommand();
        read.CommandText = "select ordering, sequence_number, message from journal where persistence_id = 'training-coordinator' order by ordering desc limit 1";
        long ordering, sequenceNr;
        byte[] message;
        using (var reader = read.ExecuteReader())
        {
            Assert.True(reader.Read());
            (ordering, sequenceNr, message) = (reader.GetInt64(0), reader.GetInt64(1), (byte[])reader.GetValue(2));
        }
        message[message.Length / 2] ^= 0x01;
        using var write = connection.CreateCommand();
        write.CommandText = "update journal set message = $message where ordering = $ordering";
        write.Parameters.AddWithValue("$message", message);
        write.Parameters.AddWithValue("$ordering", ordering);
        Assert.Equal(1, write.ExecuteNonQuery());
        return sequenceNr;
    }

    [Fact]
    public async Task A_damaged_journal_entry_is_refused_by_its_checksum_with_one_line()
    {
        await TwoRoundsOrMore();
        DamageNewestEvent();
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = await Cli.RunAsync(["report", "--data-dir", Data], output, error, TestContext.Current.CancellationToken);

        Assert.Equal(ExitCodes.BadInput, code);
        var line = Assert.Single(error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("holds a damaged entry", line, StringComparison.Ordinal);
        Assert.Contains("fails its checksum", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_damaged_journal_entry_stops_the_job_with_one_line_naming_the_entry()
    {
        await TwoRoundsOrMore();
        var sequenceNr = DamageNewestEvent();

        var (code, _, error) = await Train(Rounds, TestContext.Current.CancellationToken);

        Assert.Equal(ExitCodes.BadInput, code);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.True(line.Contains($"persistence id training-coordinator at sequence number {sequenceNr} does not read back", StringComparison.Ordinal), line);
        Assert.Contains("fails its checksum", line, StringComparison.Ordinal);
    }
}
