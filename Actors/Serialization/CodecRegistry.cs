using System.Buffers.Binary;
using System.Runtime.Serialization;

namespace Moe.Actors.Serialization;

/// <summary>
/// Reads and writes a payload of one message type. Writing lays the fields down; reading gets them back in the
/// same order. Each payload starts with a format version, so a newer node's message fails loudly on an old one,
/// and ends with a CRC-32C of everything before it, so a damaged journal entry or message is refused rather than
/// read as numbers.
/// </summary>
public delegate void PayloadWrite<in T>(PayloadWriter writer, T message);

public delegate T PayloadRead<out T>(ref PayloadReader reader);

/// <summary>The manifest of every message type and how to write and read it.</summary>
public sealed class CodecRegistry
{
    /// <summary>Version 2 adds the checksum; version 1 payloads (written before it) still read, unchecked.</summary>
    private const byte Version = 2;

    private const byte Unchecked = 1;

    private readonly Dictionary<Type, (string Manifest, Action<PayloadWriter, object> Write)> _byType = [];
    private readonly Dictionary<string, ReadAny> _byManifest = [];

    private delegate object ReadAny(ref PayloadReader reader);

    public IEnumerable<Type> Types => _byType.Keys;

    public CodecRegistry Add<T>(string manifest, PayloadWrite<T> write, PayloadRead<T> read)
        where T : notnull
    {
        if (!_byManifest.TryAdd(manifest, (ref PayloadReader r) => read(ref r)))
            throw new InvalidOperationException($"Manifest \"{manifest}\" is registered twice.");
        if (!_byType.TryAdd(typeof(T), (manifest, (w, m) => write(w, (T)m))))
            throw new InvalidOperationException($"Type {typeof(T).Name} is registered twice.");
        return this;
    }

    /// <summary>
    /// A manifest that is only read: the stored payloads of a message type's earlier shape, upgraded to the current
    /// type, so journals written by an earlier version still replay.
    /// </summary>
    public CodecRegistry AddLegacy<T>(string manifest, PayloadRead<T> read)
        where T : notnull
    {
        if (!_byManifest.TryAdd(manifest, (ref PayloadReader r) => read(ref r)))
            throw new InvalidOperationException($"Manifest \"{manifest}\" is registered twice.");
        return this;
    }

    public string Manifest(object message) =>
        _byType.TryGetValue(message.GetType(), out var codec)
            ? codec.Manifest
            : throw new SerializationException($"No codec for {message.GetType().FullName}: register it in {nameof(MoeCodecs)}.");

    public byte[] Write(object message)
    {
        if (!_byType.TryGetValue(message.GetType(), out var codec))
            throw new SerializationException($"No codec for {message.GetType().FullName}: register it in {nameof(MoeCodecs)}.");
        var writer = new PayloadWriter();
        writer.U8(Version);
        codec.Write(writer, message);
        writer.U32(Checksum.Of(writer.Written));
        return writer.ToArray();
    }

    public object Read(ReadOnlySpan<byte> bytes, string manifest)
    {
        if (!_byManifest.TryGetValue(manifest, out var read))
            throw new SerializationException(
                $"Unknown manifest \"{manifest}\": the sender runs a version of Moe.Actors that knows messages this node does not.");
        var version = bytes.IsEmpty ? (byte)0 : bytes[0];
        if (version == Version)
        {
            if (bytes.Length < 5 || Checksum.Of(bytes[..^4]) != BinaryPrimitives.ReadUInt32LittleEndian(bytes[^4..]))
                throw new SerializationException($"A \"{manifest}\" payload fails its checksum: it was damaged in storage or on the way.");
            bytes = bytes[..^4];
        }
        else if (version != Unchecked)
        {
            throw new SerializationException(
                $"\"{manifest}\" payload has format version {version}; this node reads versions {Unchecked} and {Version}.");
        }
        var reader = new PayloadReader(bytes, manifest);
        reader.U8();
        var message = read(ref reader);
        reader.End();
        return message;
    }
}
