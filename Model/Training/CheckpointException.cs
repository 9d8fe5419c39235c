namespace Moe.Model.Training;

/// <summary>A checkpoint that is partial, damaged or does not fit; it is refused, never half loaded.</summary>
public sealed class CheckpointException(string message) : Exception(message);
