using Akka.Actor;
using Akka.Serialization;

namespace Moe.Actors.Serialization;

/// <summary>
/// The serializer of every <see cref="IMoeMessage"/>: short string manifests and compact binary payloads
/// (see <see cref="MoeCodecs"/>), for remote messages and persisted events and snapshots alike.
/// </summary>
public sealed class MoeSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Serializer ids below 100 are reserved by Akka.</summary>
    public const int Id = 4711;

    public override int Identifier => Id;

    public override string Manifest(object o) => MoeCodecs.Registry.Manifest(o);

    public override byte[] ToBinary(object obj) => MoeCodecs.Registry.Write(obj);

    public override object FromBinary(byte[] bytes, string manifest) => MoeCodecs.Registry.Read(bytes, manifest);
}
