using System.Runtime.Serialization;
using Microsoft.Data.Sqlite;
using Moe.Actors.Faults;

namespace Moe.Actors.Tests.Faults;

public sealed class FailuresTests
{
    [Fact]
    public void A_full_disk_is_the_environment_wherever_it_is_wrapped()
    {
        var full = new IOException("No space left on device : '/data/blobs/x.partial'", 28);

        Assert.Equal(FailureKind.Environment, Failures.Classify(full));
        Assert.Equal(FailureKind.Environment, Failures.Classify(new AggregateException(new InvalidOperationException("outer step", full))));
        Assert.Equal(FailureKind.Environment, Failures.Classify(new SqliteException("database or disk is full", 13)));
        Assert.StartsWith("free space where", Failures.Remedy(full, "data"), StringComparison.Ordinal);
    }

    [Fact]
    public void Damaged_data_and_unreadable_input_are_input_and_other_failures_are_transient()
    {
        Assert.Equal(FailureKind.Input, Failures.Classify(new SerializationException("A \"e-tround3\" payload fails its checksum")));
        Assert.Equal(FailureKind.Input, Failures.Classify(new ArgumentException("/text.txt: no such file or folder.")));
        Assert.Equal(FailureKind.Input, Failures.Classify(new PermanentFailureException(FailureKind.Input, "bad")));
        Assert.Equal(FailureKind.Transient, Failures.Classify(new IOException("Connection refused")));
        Assert.Equal(FailureKind.Transient, Failures.Classify(new TimeoutException()));
        Assert.StartsWith("restore the database", Failures.Remedy(new SerializationException("damaged"), "data"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_transient_failure_becomes_permanent_after_the_configured_number_in_a_row()
    {
        var failures = new NodeFailures(maxRetries: 3, "data");
        var refused = new IOException("Connection refused");

        for (var k = 0; k < 3; k++)
            Assert.Null(failures.Failed("journal", "Writing", refused));
        failures.Succeeded("journal"); // a success ends the run
        for (var k = 0; k < 3; k++)
            Assert.Null(failures.Failed("journal", "Writing", refused));
        Assert.False(failures.Stopped.IsCompleted);
        var permanent = failures.Failed("journal", "Writing", refused);

        Assert.NotNull(permanent);
        Assert.Equal(FailureKind.Environment, permanent.Kind);
        Assert.Contains("failed 4 times in a row (Connection refused)", permanent.Message, StringComparison.Ordinal);
        Assert.Same(permanent, await failures.Stopped);
    }

    [Fact]
    public async Task A_permanent_failure_stops_at_once_and_the_first_one_is_kept()
    {
        var failures = new NodeFailures(maxRetries: 10, "data");

        var first = failures.Failed("trainer-0", "Trainer 0 in round 3", new ArgumentException("/text.txt: no such file or folder."));
        failures.Failed("trainer-1", "Trainer 1 in round 3", new IOException("No space left on device", 28));

        Assert.Equal(FailureKind.Input, first!.Kind);
        Assert.Equal("Trainer 0 in round 3: /text.txt: no such file or folder; fix the job's input or settings and run again", first.Message);
        Assert.Same(first, await failures.Stopped);
    }
}
