using Moe.Actors.Balancing;
using Moe.Model.Balancing;

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
        return registry;
    }

    private static void AddBalancer(CodecRegistry r) => r
        .Add<ConfigureLayer>("bcfg",
            (w, m) => { w.Text(m.JobId); w.I32(m.Layer); Spec(w, m.Spec); },
            (ref PayloadReader x) => new ConfigureLayer(x.Text(), x.I32(), Spec(ref x)))
        .Add<StepSummary>("bsum",
            (w, m) =>
            {
                w.Text(m.JobId); w.I32(m.Layer); w.Text(m.TrainerId); w.I64(m.Step); w.I32(m.Contributors);
                w.I64(m.Tokens); w.Longs(m.Loads); w.Longs(m.Histogram); w.Floats(m.LocalQ);
            },
            (ref PayloadReader x) => new StepSummary(
                x.Text(), x.I32(), x.Text(), x.I64(), x.I32(), x.I64(), x.Longs(), x.Longs(), x.Floats()))
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
        .Add<QPublished>("bpub",
            (w, m) => { w.Text(m.JobId); w.I32(m.Layer); w.I64(m.Step); w.Floats(m.Q); w.Longs(m.Loads); w.I32(m.Contributors); },
            (ref PayloadReader x) => new QPublished(x.Text(), x.I32(), x.I64(), x.Floats(), x.Longs(), x.I32()))
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
