using Moe.Actors.Balancing;
using Moe.Actors.Blobs;
using Moe.Actors.Training;
using Moe.Actors.Training.Slices;
using Moe.Model.Balancing;
using Moe.Model.Routing;
using Moe.Model.Training.Rounds;

namespace Moe.Actors.Tests.Serialization;

/// <summary>One filled-in instance of every message type the serializer knows (a test checks none is missing).</summary>
internal static class MessageSamples
{
    private static readonly LayerSpec Spec = LayerSpec.Create(4, 2, new HistogramRange(-1f, 1f, 8), clip: true);

    private static readonly JobSpec Job = new()
    {
        JobId = "job-1",
        Preset = "tiny",
        Router = RouterKind.QuantileBalancing,
        TextPath = "/data/text.jsonl",
        Rounds = 7,
        InnerSteps = 3,
        BatchSize = 5,
        InnerLearningRate = 1e-3,
        OuterLearningRate = 0.7,
        OuterMomentum = 0.9,
        Quorum = 2,
        RoundTimeout = TimeSpan.FromSeconds(90.5),
        Seed = 42,
        HistogramBins = 500,
        MaxStaleness = 1,
        OverlapSteps = 3,
    };

    private static readonly JobSpec Shaped = Job with
    {
        Layers = 3,
        Dim = 96,
        Heads = 6,
        VocabSize = 4096,
        ContextLength = 64,
        DenseLayers = 1,
        Experts = 16,
        TopK = 4,
        ExpertHidden = 48,
        SharedExpert = true,
        ScoreFunction = Moe.Model.Routing.ScoreFunction.Sigmoid,
        CapacityFactor = 1.25,
        WarmupSteps = 5,
        WeightDecay = 0.05,
        GradientClip = 0.5,
    };

    private static readonly BlobRef Blob = BlobRef.Create(new string('e', 64), 123_456_789);

    private static readonly GlobalQ Q = new([40, -1], [[0.25f, -0.5f, 0f, 1f], [0f, 0f, 0f, 0f]]);

    private static PartStats Part(string trainer) => new(trainer, 4096, 5.5, 1.25, 0.0625, 1, [0.5, 0.25, double.NaN], 0.75);

    public static IEnumerable<object> All()
    {
        yield return new StartJob(Job);
        yield return new StartJob(Job with { TextPath = null, OverlapSteps = 0 }, ["Rounds", "Preset"]);
        yield return new StartJob(Job.Resolve(), []);
        yield return new StartJob(Shaped, ["Layers", "Experts"]);
        yield return new JobRejected("job-1", "job \"x\" is running");
        yield return GetJobStatus.Instance;
        yield return new JobStatus("job-1", 3, 7, false, Blob, ["a", "b"], ["a"], 4.25, 8192, 1.5, 0.125);
        yield return JobStatus.None;
        yield return JobStatus.None with { JobId = "job-1", Problem = "no kept checkpoint could be read back" };
        yield return new RoundsRolledBackEvent(2, "the parameters of round 3 are damaged");
        yield return new RegisterTrainer("10.0.0.1:4053/trainer-0");
        yield return new RoundStart(Job, 3, "abc123", Blob, 17, 2);
        yield return new RoundStart(Job, 4, "def456", null, 18, 2);
        yield return new RoundParameters("job-1", 4, "def456", Blob);
        yield return new RoundResult("job-1", 3, "abc123", 17, Blob, Part("t0"));
        yield return new RoundResult("job-1", 3, "abc123", 17, Blob, Part("t1")) { Q = Q, Vocabulary = Blob with { Size = 11 } };
        yield return new RoundFailed("job-1", 3, "abc123", "t0", "blob missing");
        yield return new JobFinished("job-1", 7);
        yield return new JobStartedEvent(Job, Blob);
        yield return new JobStartedEvent(Job with { DeltaPrecision = DeltaPrecision.Bf16, Slices = 4, GradientAccumulation = 2 }, Blob);
        yield return new StepSlice("job-1", 2, "abc123", Blob, Blob with { Size = 5 }, [Blob with { Size = 6 }, Blob with { Size = 7 }], 0.7, 0.9);
        yield return new StepSlice("job-1", 0, "abc123", Blob, null, [Blob], 1, 0);
        yield return new SliceStepped("job-1", 2, "abc123", Blob, Blob with { Size = 8 });
        yield return new SliceStepped("job-1", 0, "abc123", Blob, null);
        yield return new SliceStepFailed("job-1", 1, "abc123", "delta 0 is damaged", Permanent: true);
        yield return new JobStartedEvent(Job.Resolve(), Blob);
        yield return new JobStartedEvent(Shaped.Resolve(), Blob);
        yield return new RoundCommittedEvent(3, Blob, Blob with { Size = 7 }, new ShardPlan(12, [4, 9]), [Part("t0"), Part("t1") with { LayerMaxVio = [] }],
            new DateTime(2026, 11, 28, 21, 30, 0, DateTimeKind.Utc), 12.5);
        yield return new RoundCommittedEvent(4, Blob, null, new ShardPlan(13, []), [Part("t0")], new DateTime(2026, 11, 29, 2, 0, 0, DateTimeKind.Utc), 1.5);
        yield return new RoundCommittedEvent(5, Blob, null, new ShardPlan(14, []), [Part("t0")], new DateTime(2026, 11, 29, 2, 1, 0, DateTimeKind.Utc), 1.5)
        {
            Q = Q,
            Vocabulary = Blob with { Size = 11 },
        };
        yield return new ConfigureLayer("job-1", 3, Spec);
        var window = new ReadoutWindow(8, [-0.5f, 0f, 0.01f, 1e-3f], [0.5f, 0.25f, 0.0102f, 3e-3f], 8);
        yield return new StepsReleased("job-1", 3, "node-a/trainer-0", 40, 49);
        yield return new StepSummary("job-1", 3, "node-a/trainer-0", 41, 2, 5,
            [3, 2, 5, 0], new SparseCounts([0, 3, 8, 9, 31], [5, 1, 2, 2, 5]));
        yield return new StepSummary("job-1", 3, "node-a/trainer-1", 42, 2, 5,
            [3, 2, 5, 0], new SparseCounts([0, 3, 8, 9, 31], [5, 1, 2, 2, 5]))
        { Window = window };
        yield return new GetQ("job-1", 3);
        yield return new GetBalancerStatus("job-1", 3);
        yield return new CurrentQ("job-1", 3, -1, [0.25f, 0f, 1f, 3e-8f]);
        yield return new CommandRejected("job-1", 3, "t", 7, "loads has 3 entries, expected one per expert (4)");
        yield return new QPublished("job-1", 3, 9, [1f, 2f, 3f, 4f], [10, 0, 5, long.MaxValue], 4);
        yield return new QPublished("job-1", 3, 10, [1f, 2f, 3f, 4f], [10, 0, 5, long.MaxValue], 4) { Window = window };
        yield return new BalancerStatus("job-1", 3, true, 9, 12, 100, 3, 2, 1);
        yield return new LayerConfiguredEvent(Spec);
        yield return new QCommitted(long.MaxValue, [float.MaxValue, float.MinValue, 0f, -1.5f]);
        yield return new BalancerSnapshot(Spec, 17, [0.5f, 0.25f, 0.125f, 0f]);
    }
}
