namespace Moe.Actors.Balancing;

/// <summary>Persisted: the layer was configured for its job.</summary>
public sealed record LayerConfiguredEvent(LayerSpec Spec) : IMoeMessage;

/// <summary>Persisted: q read from the merged summaries of a step. Once written it is acknowledged and published.</summary>
public sealed record QCommitted(long Step, float[] Q) : IMoeMessage;

/// <summary>Persisted every N commits; the events before it are then deleted.</summary>
public sealed record BalancerSnapshot(LayerSpec Spec, long Step, float[] Q) : IMoeMessage;
