using System.Runtime.Serialization;
using Akka.Actor;
using Moe.Actors.Balancing;
using Moe.Actors.Blobs;
using Moe.Actors.Serialization;
using Moe.Actors.Tests.Support;
using Moe.Actors.Training;
using Moe.Model.Balancing;
using Moe.Model.Network;
using Moe.Testing;

namespace Moe.Actors.Tests.Serialization;

public sealed class MoeSerializerTests
{
    public static TheoryData<string> Manifests =>
        [.. MessageSamples.All().Select(MoeCodecs.Registry.Manifest).Distinct()];

    [Fact]
    public void Every_registered_message_type_has_a_round_trip_sample()
    {
        var sampled = MessageSamples.All().Select(m => m.GetType()).ToHashSet();
        Assert.All(MoeCodecs.Registry.Types, t => Assert.Contains(t, sampled));
        Assert.All(MoeCodecs.Registry.Types, t => Assert.True(typeof(IMoeMessage).IsAssignableFrom(t), t.Name));
    }

    [Theory]
    [MemberData(nameof(Manifests))]
    public void Each_message_round_trips_to_an_equal_message(string manifest)
    {
        foreach (var original in MessageSamples.All().Where(m => MoeCodecs.Registry.Manifest(m) == manifest))
        {
            var bytes = MoeCodecs.Registry.Write(original);
            var copy = MoeCodecs.Registry.Read(bytes, manifest);

            Assert.IsType(original.GetType(), copy);
            Assert.Equal(bytes, MoeCodecs.Registry.Write(copy)); // every field, arrays included, bit for bit
            Assert.Equal(Describe(original), Describe(copy));
        }
    }

    [Theory]
    [MemberData(nameof(Manifests))]
    public void A_truncated_payload_fails_with_a_serialization_error(string manifest)
    {
        var bytes = MoeCodecs.Registry.Write(MessageSamples.All().First(m => MoeCodecs.Registry.Manifest(m) == manifest));

        Assert.Throws<SerializationException>(() => MoeCodecs.Registry.Read(bytes.AsSpan(0, bytes.Length - 1), manifest));
        Assert.Throws<SerializationException>(() => MoeCodecs.Registry.Read([.. bytes, 0], manifest));
    }

    [Fact]
    public void An_unknown_manifest_or_version_fails_loudly()
    {
        var unknown = Assert.Throws<SerializationException>(() => MoeCodecs.Registry.Read([1, 2, 3], "zz-new"));
        Assert.Contains("Unknown manifest \"zz-new\"", unknown.Message, StringComparison.Ordinal);

        var bytes = MoeCodecs.Registry.Write(new Moe.Actors.Balancing.GetQ("j", 0));
        bytes[0] = 9;
        var version = Assert.Throws<SerializationException>(() => MoeCodecs.Registry.Read(bytes, "bget"));
        Assert.Contains("version 9", version.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_round_committed_by_an_earlier_version_still_replays()
    {
        // The "e-tround" layout before per-trainer figures: round, parameters, momentum, plan, contributors, loss, tokens.
        var blob = BlobRef.Create(new string('a', 64), 99);
        var writer = new PayloadWriter();
        writer.U8(1);
        writer.I32(4);
        foreach (var b in new[] { blob, blob with { Size = 7 } })
        {
            writer.Text(b.Sha256);
            writer.I64(b.Size);
        }
        writer.I64(12);
        writer.Longs([4, 9]);
        writer.Strings(["t0", "t1"]);
        writer.F64(5.25);
        writer.I64(8192);

        var e = Assert.IsType<RoundCommittedEvent>(MoeCodecs.Registry.Read(writer.ToArray(), "e-tround"));

        Assert.Equal((4, 99L, 7L, 12L), (e.Round, e.Parameters.Size, e.Momentum?.Size, e.Plan.Next));
        Assert.Equal(["t0", "t1"], e.Contributors);
        Assert.Equal((5.25, 8192L), (e.MeanLoss, e.Tokens));
        Assert.True(double.IsNaN(e.Seconds) && double.IsNaN(e.Parts[0].StepSeconds));
    }

    [Fact]
    public void A_round_committed_before_momentum_became_optional_still_replays()
    {
        // "e-tround2" is "e-tround4" with the momentum always present and neither q nor the vocabulary (two absent flags).
        var current = new RoundCommittedEvent(4, BlobRef.Create(new string('a', 64), 99), BlobRef.Create(new string('b', 64), 7),
            new ShardPlan(12, [4, 9]), [], new DateTime(2026, 11, 28, 21, 30, 0, DateTimeKind.Utc), 2.5);
        var prefix = new PayloadWriter(); // version, round and parameters: the momentum's presence flag comes next
        prefix.U8(1);
        prefix.I32(current.Round);
        prefix.Text(current.Parameters.Sha256);
        prefix.I64(current.Parameters.Size);
        var bytes = Unchecked(MoeCodecs.Registry.Write(current)).ToList();
        Assert.Equal(1, bytes[prefix.ToArray().Length]);
        bytes.RemoveAt(prefix.ToArray().Length);
        Assert.Equal([0, 0], bytes[^2..]);
        bytes.RemoveRange(bytes.Count - 2, 2);

        var e = Assert.IsType<RoundCommittedEvent>(MoeCodecs.Registry.Read(bytes.ToArray(), "e-tround2"));

        Assert.Equal(MoeCodecs.Registry.Write(current), MoeCodecs.Registry.Write(e));
    }

    [Theory]
    [InlineData("e-tround3")]
    [InlineData("trr2")]
    public void Rounds_and_results_from_before_they_kept_q_and_the_vocabulary_still_read(string manifest)
    {
        // The earlier manifest is the current one without the two trailing presence flags.
        var current = MessageSamples.All().First(m => MoeCodecs.Registry.Manifest(m) == manifest.TrimEnd('2', '3') + (manifest == "trr2" ? "3" : "4"));
        var bytes = Unchecked(MoeCodecs.Registry.Write(current)).ToList();
        Assert.Equal([0, 0], bytes[^2..]);
        bytes.RemoveRange(bytes.Count - 2, 2);

        var old = MoeCodecs.Registry.Read(bytes.ToArray(), manifest);

        Assert.Equal(MoeCodecs.Registry.Write(current), MoeCodecs.Registry.Write(old));
    }

    [Fact]
    public void A_round_result_whose_delta_was_handed_over_in_memory_cannot_leave_its_node()
    {
        var handedOver = new RoundResult("job-1", 3, "abc123", 17, null, new PartStats("t0", 8, 4.5, 1.5, 0.25, 1, [0.5], 0.75));

        var e = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => MoeCodecs.Registry.Write(handedOver));

        Assert.Contains("trainer t0 for round 3 left its delta in this node's memory", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_job_started_before_rounds_could_overlap_replays_without_overlap_and_resolved_from_its_preset()
    {
        // "e-tjob3" is "e-tjob4" without the shape (a JSON text, "{}" when none is given); "e-tjob2" is "e-tjob3"
        // without the resolved model and training configuration (two empty texts of one byte each when unresolved);
        // "e-tjob" is "e-tjob2" without the overlap steps. The parameters follow.
        var parameters = BlobRef.Create(new string('c', 64), 1234);
        var unresolved = new JobStartedEvent(new JobSpec { JobId = "old", OverlapSteps = 0 }, parameters);
        var tail = new PayloadWriter();
        tail.Text(parameters.Sha256);
        tail.I64(parameters.Size);
        var bytes = Unchecked(MoeCodecs.Registry.Write(unresolved)).ToList();
        var end = bytes.Count - tail.ToArray().Length;
        Assert.Equal([0, 4, (byte)'{', (byte)'}', 0, 0], bytes[(end - 6)..end]); // lengths are zigzag varints: 2 is 4
        bytes.RemoveRange(end - 5, 3);
        Assert.Equal(unresolved, MoeCodecs.Registry.Read(bytes.ToArray(), "e-tjob3"));
        end -= 3;
        bytes.RemoveRange(end - 2, 2);
        var resolved = unresolved with { Spec = unresolved.Spec.Resolve() };

        Assert.Equal(resolved, MoeCodecs.Registry.Read(bytes.ToArray(), "e-tjob2"));
        bytes.RemoveAt(end - 3);
        Assert.Equal(resolved, MoeCodecs.Registry.Read(bytes.ToArray(), "e-tjob"));
        Assert.Equal(ModelPresets.Get("small-16e").Model, resolved.Spec.ResolvedModel);
    }

    [Fact]
    public void A_summary_of_an_earlier_trainer_with_its_local_q_is_read_without_it()
    {
        var summary = MessageSamples.All().OfType<StepSummary>().First();
        var localQ = new PayloadWriter();
        localQ.Floats([0.5f, 0f, 1f, 2f]);

        var current = Unchecked(MoeCodecs.Registry.Write(summary));
        var read = MoeCodecs.Registry.Read([.. current.AsSpan(0, current.Length - 1), .. localQ.ToArray()], "bsum"); // without the window's flag

        Assert.Equal(Describe(summary), Describe(read));
        Assert.Equal(Describe(summary), Describe(MoeCodecs.Registry.Read(current.AsSpan(0, current.Length - 1), "bsum2")));
    }

    [Fact]
    public void A_q_published_by_an_earlier_balancer_reads_without_a_window()
    {
        var published = MessageSamples.All().OfType<QPublished>().First(p => p.Window is not null);
        var current = Unchecked(MoeCodecs.Registry.Write(published with { Window = null }));

        var read = (QPublished)MoeCodecs.Registry.Read(current.AsSpan(0, current.Length - 1), "bpub");

        Assert.Null(read.Window);
        Assert.Equal(published.Q, read.Q);
    }

    [Theory]
    [MemberData(nameof(Manifests))]
    public void A_payload_with_any_byte_flipped_is_refused_by_its_checksum_never_read_as_other_values(string manifest)
    {
        var bytes = MoeCodecs.Registry.Write(MessageSamples.All().First(m => MoeCodecs.Registry.Manifest(m) == manifest));
        for (var k = 1; k < bytes.Length; k++)
        {
            var damaged = (byte[])bytes.Clone();
            damaged[k] ^= 0x10;
            var error = Assert.Throws<SerializationException>(() => MoeCodecs.Registry.Read(damaged, manifest));
            Assert.Contains("checksum", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_payload_written_before_checksums_still_reads()
    {
        foreach (var message in MessageSamples.All())
        {
            var manifest = MoeCodecs.Registry.Manifest(message);
            Assert.Equal(Describe(message), Describe(MoeCodecs.Registry.Read(Unchecked(MoeCodecs.Registry.Write(message)), manifest)));
        }
    }

    /// <summary>A payload as versions before the checksum wrote it: format version 1, no checksum at the end.</summary>
    private static byte[] Unchecked(byte[] payload) => [1, .. payload[1..^4]];

    [Fact]
    public void A_corrupt_length_does_not_allocate_what_it_claims()
    {
        // A string length of 2^31 - 1 with three bytes left must fail, not try to allocate 2 GB.
        byte[] bytes = [1, 0xFE, 0xFF, 0xFF, 0xFF, 0x0F, 0x41];
        Assert.Throws<SerializationException>(() => MoeCodecs.Registry.Read(bytes, "bget"));
    }

    [Fact]
    [Trait("Category", "Integration")]
    public async Task Akka_picks_our_serializer_for_every_message_type()
    {
        using var data = new TempDirectory();
        await using var node = await ClusterNode.StartAsync(ClusterNode.Settings(data.Path), cancellation: TestContext.Current.CancellationToken);
        foreach (var message in MessageSamples.All())
        {
            var serializer = node.System.Serialization.FindSerializerFor(message);
            Assert.IsType<MoeSerializer>(serializer);
            var copy = node.System.Serialization.Deserialize(serializer.ToBinary(message), serializer.Identifier,
                Akka.Serialization.Serialization.ManifestFor(serializer, message));
            Assert.Equal(Describe(message), Describe(copy));
        }
    }

    /// <summary>Record ToString plus array contents (record equality compares arrays by reference).</summary>
    private static string Describe(object message) =>
        message + string.Concat(message.GetType().GetProperties()
            .Select(p => p.GetValue(message))
            .Select(v => v switch
            {
                SparseCounts s => s.Indices.Select(i => (long)i).Concat([-1]).Concat(s.Counts),
                ReadoutWindow w => new object[] { w.Step, w.Bins }.Concat(w.Low.ToArray().Cast<object>()).Concat(w.High.ToArray().Cast<object>()),
                _ => v,
            })
            .OfType<System.Collections.IEnumerable>()
            .Where(v => v is not string)
            .Select(v => "|" + string.Join(",", v.Cast<object>().Select(x => x is float f ? BitConverter.SingleToInt32Bits(f).ToString() : x.ToString()))));
}
