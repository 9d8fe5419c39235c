using System.Text.Json;
using Moe.Actors.Balancing;
using Moe.Actors.Blobs;
using Moe.Actors.Training;
using Moe.Actors.Training.Slices;
using Moe.Model.Balancing;
using Moe.Model.Network;
using Moe.Model.Routing;
using Moe.Model.Training;
using Moe.Model.Training.Rounds;

namespace Moe.Actors.Serialization;

/// <summary>
/// Every message that crosses nodes and every persisted event or snapshot, with its manifest. Manifests are part of
/// the stored data: never reuse or rename one; add a new manifest for a changed message instead.
/// </summary>
public static class MoeCodecs
{
    public static CodecRegistry Registry { get; } = Build();

    private static CodecRegistry Build()
    {
        var registry = new CodecRegistry();
        AddBalancer(registry);
        AddTraining(registry);
        AddSlices(registry);
        return registry;
    }

    private static void AddBalancer(CodecRegistry r) => r
        .Add<ConfigureLayer>("bcfg",
            (w, m) => { w.Text(m.JobId); w.I32(m.Layer); Spec(w, m.Spec); },
            (ref PayloadReader x) => new ConfigureLayer(x.Text(), x.I32(), Spec(ref x)))
        .Add<StepSummary>("bsum3",
            (w, m) =>
            {
                w.Text(m.JobId); w.I32(m.Layer); w.Text(m.TrainerId); w.I64(m.Step); w.I32(m.Contributors);
                w.I64(m.Tokens); w.Longs(m.Loads); Sparse(w, m.Histogram); OptionalWindow(w, m.Window);
            },
            (ref PayloadReader x) => new StepSummary(x.Text(), x.I32(), x.Text(), x.I64(), x.I32(), x.I64(), x.Longs(), Sparse(ref x))
            { Window = OptionalWindow(ref x) })
        // Trainers of earlier versions binned with the job's fixed range only.
        .AddLegacy("bsum2", (ref PayloadReader x) => new StepSummary(x.Text(), x.I32(), x.Text(), x.I64(), x.I32(), x.I64(), x.Longs(), Sparse(ref x)))
        // Trainers of earlier versions also sent their local q, which no balancer reads.
        .AddLegacy("bsum", (ref PayloadReader x) =>
        {
            var summary = new StepSummary(x.Text(), x.I32(), x.Text(), x.I64(), x.I32(), x.I64(), x.Longs(), Sparse(ref x));
            _ = x.Floats();
            return summary;
        })
        .Add<StepsReleased>("brel",
            (w, m) => { w.Text(m.JobId); w.I32(m.Layer); w.Text(m.TrainerId); w.I64(m.FromStep); w.I64(m.ToStep); },
            (ref PayloadReader x) => new StepsReleased(x.Text(), x.I32(), x.Text(), x.I64(), x.I64()))
        .Add<GetQ>("bget",
            (w, m) => { w.Text(m.JobId); w.I32(m.Layer); },
            (ref PayloadReader x) => new GetQ(x.Text(), x.I32()))
        .Add<GetBalancerStatus>("bgst",
            (w, m) => { w.Text(m.JobId); w.I32(m.Layer); },
            (ref PayloadReader x) => new GetBalancerStatus(x.Text(), x.I32()))
        .Add<CurrentQ>("bq",
            (w, m) => { w.Text(m.JobId); w.I32(m.Layer); w.I64(m.Step); w.Floats(m.Q); },
            (ref PayloadReader x) => new CurrentQ(x.Text(), x.I32(), x.I64(), x.Floats()))
        .Add<CommandRejected>("brej",
            (w, m) => { w.Text(m.JobId); w.I32(m.Layer); w.Text(m.TrainerId); w.I64(m.Step); w.Text(m.Reason); },
            (ref PayloadReader x) => new CommandRejected(x.Text(), x.I32(), x.Text(), x.I64(), x.Text()))
        .Add<QPublished>("bpub2",
            (w, m) =>
            {
                w.Text(m.JobId); w.I32(m.Layer); w.I64(m.Step); w.Floats(m.Q); w.Longs(m.Loads); w.I32(m.Contributors);
                OptionalWindow(w, m.Window);
            },
            (ref PayloadReader x) => new QPublished(x.Text(), x.I32(), x.I64(), x.Floats(), x.Longs(), x.I32()) { Window = OptionalWindow(ref x) })
        // Balancers of earlier versions published no read-out window: their trainers bin with the fixed range.
        .AddLegacy("bpub", (ref PayloadReader x) => new QPublished(x.Text(), x.I32(), x.I64(), x.Floats(), x.Longs(), x.I32()))
        .Add<BalancerStatus>("bst",
            (w, m) =>
            {
                w.Text(m.JobId); w.I32(m.Layer); w.Flag(m.Configured); w.I64(m.Step); w.I64(m.LastSequenceNr);
                w.I64(m.Accepted); w.I64(m.Ignored); w.I64(m.Rejected); w.I32(m.PendingSteps);
            },
            (ref PayloadReader x) => new BalancerStatus(
                x.Text(), x.I32(), x.Flag(), x.I64(), x.I64(), x.I64(), x.I64(), x.I64(), x.I32()))
        .Add<LayerConfiguredEvent>("e-bcfg",
            (w, m) => Spec(w, m.Spec),
            (ref PayloadReader x) => new LayerConfiguredEvent(Spec(ref x)))
        .Add<QCommitted>("e-bq",
            (w, m) => { w.I64(m.Step); w.Floats(m.Q); },
            (ref PayloadReader x) => new QCommitted(x.I64(), x.Floats()))
        .Add<BalancerSnapshot>("s-b",
            (w, m) => { Spec(w, m.Spec); w.I64(m.Step); w.Floats(m.Q); },
            (ref PayloadReader x) => new BalancerSnapshot(Spec(ref x), x.I64(), x.Floats()));

    private static void AddTraining(CodecRegistry r) => r
        .Add<StartJob>("tjob4",
            (w, m) => { Job(w, m.Spec); w.Strings(m.Explicit); },
            (ref PayloadReader x) => new StartJob(Job(ref x), x.Strings()))
        // Jobs described before the model's shape was a job setting.
        .AddLegacy("tjob3", (ref PayloadReader x) => new StartJob(Job(ref x, shapeField: false), x.Strings()))
        .AddLegacy("tjob2", (ref PayloadReader x) => new StartJob(Job(ref x, shapeField: false, resolvedFields: false)))
        .Add<JobRejected>("tjrej",
            (w, m) => { w.Text(m.JobId); w.Text(m.Reason); },
            (ref PayloadReader x) => new JobRejected(x.Text(), x.Text()))
        .Add<GetJobStatus>("tgst",
            (_, _) => { },
            (ref PayloadReader _) => GetJobStatus.Instance)
        .Add<JobStatus>("tst2",
            (w, m) =>
            {
                w.Text(m.JobId); w.I32(m.CommittedRounds); w.I32(m.TotalRounds); w.Flag(m.Finished); OptionalBlob(w, m.Parameters);
                w.Strings(m.Members); w.Strings(m.LastContributors); w.F64(m.LastLoss); w.I64(m.LastTokens);
                w.F64(m.LastRoundSeconds); w.F64(m.LastWorstMaxVio); w.Text(m.Problem ?? "");
            },
            (ref PayloadReader x) => new JobStatus(
                x.Text(), x.I32(), x.I32(), x.Flag(), OptionalBlob(ref x), x.Strings(), x.Strings(), x.F64(), x.I64(), x.F64(), x.F64())
            {
                Problem = x.Text() is { Length: > 0 } problem ? problem : null,
            })
        // Coordinators before problems were reported.
        .AddLegacy("tst", (ref PayloadReader x) => new JobStatus(
            x.Text(), x.I32(), x.I32(), x.Flag(), OptionalBlob(ref x), x.Strings(), x.Strings(), x.F64(), x.I64(), x.F64(), x.F64()))
        .Add<RoundsRolledBackEvent>("e-troll",
            (w, m) => { w.I32(m.ToRound); w.Text(m.Problem); },
            (ref PayloadReader x) => new RoundsRolledBackEvent(x.I32(), x.Text()))
        .Add<RegisterTrainer>("treg",
            (w, m) => w.Text(m.TrainerId),
            (ref PayloadReader x) => new RegisterTrainer(x.Text()))
        .Add<RoundStart>("trs4",
            (w, m) => { Job(w, m.Spec); w.I32(m.Round); w.Text(m.Attempt); OptionalBlob(w, m.Parameters); w.I64(m.Shard); w.I32(m.Contributors); },
            (ref PayloadReader x) => new RoundStart(Job(ref x), x.I32(), x.Text(), OptionalBlob(ref x), x.I64(), x.I32()))
        .AddLegacy("trs3", (ref PayloadReader x) => new RoundStart(Job(ref x, shapeField: false), x.I32(), x.Text(), OptionalBlob(ref x), x.I64(), x.I32()))
        .AddLegacy("trs2", (ref PayloadReader x) => new RoundStart(Job(ref x, shapeField: false, resolvedFields: false), x.I32(), x.Text(), OptionalBlob(ref x), x.I64(), x.I32()))
        .Add<RoundParameters>("trp",
            (w, m) => { w.Text(m.JobId); w.I32(m.Round); w.Text(m.Attempt); Blob(w, m.Parameters); },
            (ref PayloadReader x) => new RoundParameters(x.Text(), x.I32(), x.Text(), Blob(ref x)))
        // A delta handed over in memory exists only on its node, so a result that crosses nodes always names a stored
        // one. A coordinator of an earlier version cannot read "trr3": during an upgrade, the results of upgraded
        // trainers count once the coordinator runs the new version too.
        .Add<RoundResult>("trr3",
            (w, m) =>
            {
                w.Text(m.JobId); w.I32(m.Round); w.Text(m.Attempt); w.I64(m.Shard); Blob(w, m.Delta ?? throw HandedOver(m)); Part(w, m.Stats);
                OptionalQ(w, m.Q); OptionalBlob(w, m.Vocabulary);
            },
            (ref PayloadReader x) => new RoundResult(x.Text(), x.I32(), x.Text(), x.I64(), Blob(ref x), Part(ref x))
            {
                Q = OptionalQ(ref x),
                Vocabulary = OptionalBlob(ref x),
            })
        // Trainers before results carried the global q and the vocabulary.
        .AddLegacy("trr2", (ref PayloadReader x) => new RoundResult(x.Text(), x.I32(), x.Text(), x.I64(), Blob(ref x), Part(ref x)))
        .Add<RoundFailed>("trf",
            (w, m) => { w.Text(m.JobId); w.I32(m.Round); w.Text(m.Attempt); w.Text(m.TrainerId); w.Text(m.Reason); },
            (ref PayloadReader x) => new RoundFailed(x.Text(), x.I32(), x.Text(), x.Text(), x.Text()))
        .Add<JobFinished>("tfin",
            (w, m) => { w.Text(m.JobId); w.I32(m.Rounds); },
            (ref PayloadReader x) => new JobFinished(x.Text(), x.I32()))
        .Add<JobStartedEvent>("e-tjob4",
            (w, m) => { Job(w, m.Spec); Blob(w, m.Parameters); },
            (ref PayloadReader x) => new JobStartedEvent(Job(ref x), Blob(ref x)))
        // Jobs started before the model's shape was a job setting: their resolved model has it.
        .AddLegacy("e-tjob3", (ref PayloadReader x) => new JobStartedEvent(Job(ref x, shapeField: false), Blob(ref x)))
        // Jobs started before they recorded their resolved configuration: resolved from their preset as it is now.
        .AddLegacy("e-tjob2", (ref PayloadReader x) => new JobStartedEvent(Job(ref x, shapeField: false, resolvedFields: false).Resolve(), Blob(ref x)))
        // Jobs started before rounds could overlap: they go on without overlapping.
        .AddLegacy("e-tjob", (ref PayloadReader x) => new JobStartedEvent(Job(ref x, overlapField: false, shapeField: false, resolvedFields: false).Resolve(), Blob(ref x)))
        .Add<RoundCommittedEvent>("e-tround4",
            (w, m) =>
            {
                w.I32(m.Round); Blob(w, m.Parameters); OptionalBlob(w, m.Momentum); Plan(w, m.Plan);
                Parts(w, m.Parts);
                w.I64(m.CommittedAt.Ticks); w.F64(m.Seconds);
                OptionalQ(w, m.Q); OptionalBlob(w, m.Vocabulary);
            },
            (ref PayloadReader x) => new RoundCommittedEvent(
                x.I32(), Blob(ref x), OptionalBlob(ref x), Plan(ref x), Parts(ref x), new DateTime(x.I64(), DateTimeKind.Utc), x.F64())
            {
                Q = OptionalQ(ref x),
                Vocabulary = OptionalBlob(ref x),
            })
        // Rounds committed before they kept the global q and the vocabulary: export refuses them until a round of
        // this version commits (which carries both).
        .AddLegacy("e-tround3", (ref PayloadReader x) => new RoundCommittedEvent(
            x.I32(), Blob(ref x), OptionalBlob(ref x), Plan(ref x), Parts(ref x), new DateTime(x.I64(), DateTimeKind.Utc), x.F64()))
        // Rounds committed before a job with outer momentum 0 could leave the momentum out.
        .AddLegacy("e-tround2", (ref PayloadReader x) => new RoundCommittedEvent(
            x.I32(), Blob(ref x), Blob(ref x), Plan(ref x), Parts(ref x), new DateTime(x.I64(), DateTimeKind.Utc), x.F64()))
        // Rounds committed before per-trainer figures were recorded: the mean loss and the tokens are split evenly
        // over the contributors; what was not measured is NaN.
        .AddLegacy("e-tround", (ref PayloadReader x) =>
        {
            var (round, parameters, momentum, plan) = (x.I32(), Blob(ref x), Blob(ref x), Plan(ref x));
            var (contributors, meanLoss, tokens) = (x.Strings(), x.F64(), x.I64());
            PartStats[] parts = [.. contributors.Select(c => new PartStats(c, tokens / contributors.Length, meanLoss, double.NaN, double.NaN, 0, [], double.NaN))];
            return new RoundCommittedEvent(round, parameters, momentum, plan, parts, default, double.NaN);
        });

    private static void AddSlices(CodecRegistry r) => r
        .Add<StepSlice>("sstep",
            (w, m) =>
            {
                w.Text(m.JobId); w.I32(m.Slice); w.Text(m.Attempt); Blob(w, m.Parameters); OptionalBlob(w, m.Momentum);
                w.I32(m.Deltas.Length);
                foreach (var delta in m.Deltas)
                    Blob(w, delta);
                w.F64(m.LearningRate); w.F64(m.MomentumFactor);
            },
            (ref PayloadReader x) =>
            {
                var (jobId, slice, attempt, parameters, momentum) = (x.Text(), x.I32(), x.Text(), Blob(ref x), OptionalBlob(ref x));
                var deltas = new BlobRef[x.I32()];
                for (var k = 0; k < deltas.Length; k++)
                    deltas[k] = Blob(ref x);
                return new StepSlice(jobId, slice, attempt, parameters, momentum, [.. deltas], x.F64(), x.F64());
            })
        .Add<SliceStepped>("sdone",
            (w, m) => { w.Text(m.JobId); w.I32(m.Slice); w.Text(m.Attempt); Blob(w, m.Parameters); OptionalBlob(w, m.Momentum); },
            (ref PayloadReader x) => new SliceStepped(x.Text(), x.I32(), x.Text(), Blob(ref x), OptionalBlob(ref x)))
        .Add<SliceStepFailed>("sfail",
            (w, m) => { w.Text(m.JobId); w.I32(m.Slice); w.Text(m.Attempt); w.Text(m.Reason); w.Flag(m.Permanent); },
            (ref PayloadReader x) => new SliceStepFailed(x.Text(), x.I32(), x.Text(), x.Text(), x.Flag()));

    private static void Plan(PayloadWriter w, ShardPlan plan)
    {
        w.I64(plan.Next);
        w.Longs([.. plan.Returned]);
    }

    private static ShardPlan Plan(ref PayloadReader x) => new(x.I64(), [.. x.Longs()]);

    private static void Parts(PayloadWriter w, PartStats[] parts)
    {
        w.I32(parts.Length);
        foreach (var part in parts)
            Part(w, part);
    }

    private static PartStats[] Parts(ref PayloadReader x)
    {
        var parts = new PartStats[x.I32()];
        for (var k = 0; k < parts.Length; k++)
            parts[k] = Part(ref x);
        return parts;
    }

    private static void Part(PayloadWriter w, PartStats p)
    {
        w.Text(p.TrainerId); w.I64(p.Tokens); w.F64(p.MeanLoss); w.F64(p.StepSeconds); w.F64(p.WaitSeconds);
        w.I32(p.StaleSteps); w.Doubles(p.LayerMaxVio); w.F64(p.WorstMaxVio);
    }

    private static PartStats Part(ref PayloadReader x) =>
        new(x.Text(), x.I64(), x.F64(), x.F64(), x.F64(), x.I32(), x.Doubles(), x.F64());

    private static void Job(PayloadWriter w, JobSpec spec)
    {
        w.Text(spec.JobId);
        w.Text(spec.Preset);
        w.I32((int)spec.Router);
        w.Flag(spec.TextPath is not null);
        if (spec.TextPath is not null)
            w.Text(spec.TextPath);
        w.I32(spec.Rounds);
        w.I32(spec.InnerSteps);
        w.I32(spec.BatchSize);
        w.F64(spec.InnerLearningRate);
        w.F64(spec.OuterLearningRate);
        w.F64(spec.OuterMomentum);
        w.I32(spec.Quorum);
        w.I64(spec.RoundTimeout.Ticks);
        w.I32(spec.Seed);
        w.I32(spec.HistogramBins);
        w.I32(spec.MaxStaleness);
        w.I32(spec.OverlapSteps);
        w.Text(JsonSerializer.Serialize(Shape.Of(spec), Shape.Json));
        // The resolved configuration as JSON: a setting added later reads back as its default from older payloads.
        w.Text(spec.ResolvedModel is null ? "" : JsonSerializer.Serialize(spec.ResolvedModel));
        w.Text(spec.ResolvedTraining is null ? "" : JsonSerializer.Serialize(spec.ResolvedTraining));
    }

    private static JobSpec Job(ref PayloadReader x, bool overlapField = true, bool shapeField = true, bool resolvedFields = true)
    {
        var spec = JobSettings(ref x, overlapField);
        if (shapeField)
            spec = (JsonSerializer.Deserialize<Shape>(x.Text(), Shape.Json) ?? throw new System.Runtime.Serialization.SerializationException("A job's shape is null.")).On(spec);
        if (!resolvedFields)
            return spec;
        var (model, training) = (x.Text(), x.Text());
        return spec with
        {
            ResolvedModel = model.Length == 0 ? null : JsonSerializer.Deserialize<MoeModelConfig>(model),
            ResolvedTraining = training.Length == 0 ? null : JsonSerializer.Deserialize<TrainingConfig>(training),
        };
    }

    private static JobSpec JobSettings(ref PayloadReader x, bool overlapField) => new()
    {
        JobId = x.Text(),
        Preset = x.Text(),
        Router = (RouterKind)x.I32(),
        TextPath = x.Flag() ? x.Text() : null,
        Rounds = x.I32(),
        InnerSteps = x.I32(),
        BatchSize = x.I32(),
        InnerLearningRate = x.F64(),
        OuterLearningRate = x.F64(),
        OuterMomentum = x.F64(),
        Quorum = x.I32(),
        RoundTimeout = TimeSpan.FromTicks(x.I64()),
        Seed = x.I32(),
        HistogramBins = x.I32(),
        MaxStaleness = x.I32(),
        OverlapSteps = overlapField ? x.I32() : 0,
    };

    /// <summary>
    /// The model's shape and optimiser settings of a job, as JSON: those not given are left out, and a setting added
    /// later reads back as not given (the preset's) from older payloads.
    /// </summary>
    private sealed record Shape(int? Layers, int? Dim, int? Heads, int? VocabSize, int? ContextLength, int? DenseLayers, int? Experts, int? TopK,
        int? ExpertHidden, bool? SharedExpert, ScoreFunction? ScoreFunction, double? CapacityFactor, int? WarmupSteps, double? WeightDecay,
        double? GradientClip, int? GradientAccumulation, DeltaPrecision? DeltaPrecision = null, int? Slices = null)
    {
        public static readonly JsonSerializerOptions Json = new()
        {
            DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
            Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
        };

        public static Shape Of(JobSpec s) => new(s.Layers, s.Dim, s.Heads, s.VocabSize, s.ContextLength, s.DenseLayers, s.Experts, s.TopK,
            s.ExpertHidden, s.SharedExpert, s.ScoreFunction, s.CapacityFactor, s.WarmupSteps, s.WeightDecay, s.GradientClip, s.GradientAccumulation,
            s.DeltaPrecision == Moe.Model.Training.Rounds.DeltaPrecision.Fp32 ? null : s.DeltaPrecision, s.Slices);

        public JobSpec On(JobSpec spec) => spec with
        {
            Layers = Layers,
            Dim = Dim,
            Heads = Heads,
            VocabSize = VocabSize,
            ContextLength = ContextLength,
            DenseLayers = DenseLayers,
            Experts = Experts,
            TopK = TopK,
            ExpertHidden = ExpertHidden,
            SharedExpert = SharedExpert,
            ScoreFunction = ScoreFunction,
            CapacityFactor = CapacityFactor,
            WarmupSteps = WarmupSteps,
            WeightDecay = WeightDecay,
            GradientClip = GradientClip,
            GradientAccumulation = GradientAccumulation,
            DeltaPrecision = DeltaPrecision ?? Moe.Model.Training.Rounds.DeltaPrecision.Fp32,
            Slices = Slices,
        };
    }

    // Indices as gaps: small numbers, one varint byte each for a dense stretch of bins.
    private static void Sparse(PayloadWriter w, SparseCounts counts)
    {
        var gaps = new long[counts.Length];
        for (var k = 0; k < gaps.Length; k++)
            gaps[k] = counts.Indices[k] - (k == 0 ? 0L : counts.Indices[k - 1]);
        w.Longs(gaps);
        w.Longs(counts.Counts);
    }

    private static SparseCounts Sparse(ref PayloadReader x)
    {
        var gaps = x.Longs();
        var indices = new int[gaps.Length];
        long index = 0;
        for (var k = 0; k < gaps.Length; k++)
        {
            index += gaps[k];
            indices[k] = index is >= 0 and <= int.MaxValue
                ? (int)index
                : throw new System.Runtime.Serialization.SerializationException($"A histogram index of {index} does not fit.");
        }
        return new SparseCounts(indices, x.Longs());
    }

    private static void Blob(PayloadWriter w, BlobRef blob)
    {
        w.Text(blob.Sha256);
        w.I64(blob.Size);
    }

    private static BlobRef Blob(ref PayloadReader x) => BlobRef.Create(x.Text(), x.I64());

    private static System.Runtime.Serialization.SerializationException HandedOver(RoundResult result) =>
        new($"The result of trainer {result.TrainerId} for round {result.Round} left its delta in this node's memory and cannot go to " +
            "another node (its coordinator moved away during the round, which then runs again there).");

    private static void OptionalBlob(PayloadWriter w, BlobRef? blob)
    {
        w.Flag(blob is not null);
        if (blob is not null)
            Blob(w, blob);
    }

    private static BlobRef? OptionalBlob(ref PayloadReader x) => x.Flag() ? Blob(ref x) : null;

    private static void OptionalQ(PayloadWriter w, GlobalQ? q)
    {
        w.Flag(q is not null);
        if (q is null)
            return;
        w.Longs(q.Steps);
        foreach (var layer in q.Q)
            w.Floats(layer);
    }

    private static GlobalQ? OptionalQ(ref PayloadReader x)
    {
        if (!x.Flag())
            return null;
        var steps = x.Longs();
        var q = new float[steps.Length][];
        for (var layer = 0; layer < q.Length; layer++)
            q[layer] = x.Floats();
        return new GlobalQ(steps, q);
    }

    private static void OptionalWindow(PayloadWriter w, ReadoutWindow? window)
    {
        w.Flag(window is not null);
        if (window is null)
            return;
        w.I64(window.Step);
        w.I32(window.Bins);
        w.Floats(window.Low.ToArray());
        w.Floats(window.High.ToArray());
    }

    private static ReadoutWindow? OptionalWindow(ref PayloadReader x)
    {
        if (!x.Flag())
            return null;
        var (step, bins, low, high) = (x.I64(), x.I32(), x.Floats(), x.Floats());
        try
        {
            return new ReadoutWindow(step, low, high, bins);
        }
        catch (ArgumentException e)
        {
            throw new System.Runtime.Serialization.SerializationException($"A read-out window does not read back: {e.Message}", e);
        }
    }

    private static void Spec(PayloadWriter w, LayerSpec spec)
    {
        w.I32(spec.Experts);
        w.I32(spec.TopK);
        w.F32(spec.Range.Low);
        w.F32(spec.Range.High);
        w.I32(spec.Range.Bins);
        w.Flag(spec.Clip);
    }

    private static LayerSpec Spec(ref PayloadReader x) =>
        LayerSpec.Create(x.I32(), x.I32(), new HistogramRange(x.F32(), x.F32(), x.I32()), x.Flag());
}
