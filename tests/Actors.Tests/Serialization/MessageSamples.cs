using Moe.Actors.Balancing;
using Moe.Model.Balancing;

namespace Moe.Actors.Tests.Serialization;

/// <summary>One filled-in instance of every message type the serializer knows (a test checks none is missing).</summary>
internal static class MessageSamples
{
    private static readonly LayerSpec Spec = LayerSpec.Create(4, 2, new HistogramRange(-1f, 1f, 8), clip: true);

    public static IEnumerable<object> All()
    {
        yield return new ConfigureLayer("job-1", 3, Spec);
        yield return new StepSummary("job-1", 3, "node-a/trainer-0", 41, 2, 5,
            [3, 2, 5, 0], [.. Enumerable.Range(0, 32).Select(k => (long)(k % 3))], [0.1f, -0f, float.Epsilon, 0.7f]);
        yield return new GetQ("job-1", 3);
        yield return new GetBalancerStatus("job-1", 3);
        yield return new CurrentQ("job-1", 3, -1, [0.25f, 0f, 1f, 3e-8f]);
        yield return new CommandRejected("job-1", 3, "t", 7, "loads has 3 entries, expected one per expert (4)");
        yield return new QPublished("job-1", 3, 9, [1f, 2f, 3f, 4f], [10, 0, 5, long.MaxValue], 4);
        yield return new BalancerStatus("job-1", 3, true, 9, 12, 100, 3, 2, 1);
        yield return new LayerConfiguredEvent(Spec);
        yield return new QCommitted(long.MaxValue, [float.MaxValue, float.MinValue, 0f, -1.5f]);
        yield return new BalancerSnapshot(Spec, 17, [0.5f, 0.25f, 0.125f, 0f]);
    }
}
