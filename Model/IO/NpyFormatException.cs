namespace Moe.Model.IO;

/// <summary>A .npy file that cannot be read as a matrix of router scores; the message says what and why.</summary>
public sealed class NpyFormatException(string message) : FormatException(message);
