namespace Moe.Actors;

/// <summary>
/// Marks every message that may cross nodes and every persisted event or snapshot: all of them are written by
/// <see cref="Serialization.MoeSerializer"/>, never by Akka's default JSON serializer.
/// </summary>
public interface IMoeMessage;
