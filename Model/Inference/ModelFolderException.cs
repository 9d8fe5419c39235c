namespace Moe.Model.Inference;

/// <summary>A model folder that is missing, partial, damaged or inconsistent; it is refused, never half loaded.</summary>
public sealed class ModelFolderException(string message) : Exception(message);
