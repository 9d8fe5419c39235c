using Akka.Actor;
using Moe.Model.Training.Rounds;

namespace Moe.Actors.Blobs;

/// <summary>
/// Parameter tensors handed between the actors of one node beside the blob store: the delta a trainer just computed,
/// for a coordinator on the same node, and the parameters the coordinator just stored, for the trainers on its node.
/// A reader that finds parameters here skips reading and verifying their file on the round boundary, where every
/// trainer waits; the blob is in the store all the same, for readers on other nodes and for recovery. Content
/// addressing makes that exact: the tensors are the bytes the blob's name hashes. A delta handed over here is never
/// stored: no committed state points at a delta, and a round whose coordinator lost it runs again, so hashing and
/// writing it would buy nothing.
/// Each offer goes into its giver's slot (a trainer's id, or the coordinator's), replacing what that giver left
/// before: a node holds at most one entry per trainer and one parameter set, however many rounds fail untaken.
/// </summary>
public sealed class TensorHandoff : IExtension, IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _slots = [];
    private bool _disposed;

    /// <summary>The node's handoff (one per actor system: nodes that share a process do not share it).</summary>
    public static TensorHandoff For(ActorSystem system) => system.WithExtension<TensorHandoff, Provider>();

    /// <summary>Takes served from here: parameters read without the store, and deltas.</summary>
    public long Served { get; private set; }

    /// <summary>
    /// Leaves <paramref name="tensors"/> (owned by the handoff from now on) in <paramref name="slot"/> for
    /// <paramref name="readers"/> readers of <paramref name="blob"/>, which the caller has stored.
    /// </summary>
    public void Offer(string slot, BlobRef blob, ParameterSet tensors, int readers) =>
        Offer(slot, KeyOf(blob), tensors, readers);

    /// <summary>Leaves the delta of <paramref name="trainerId"/>'s part of round attempt <paramref name="attempt"/> for the coordinator.</summary>
    public void OfferDelta(string trainerId, string attempt, ParameterSet tensors) =>
        Offer(trainerId, DeltaKey(trainerId, attempt), tensors, readers: 1);

    /// <summary>
    /// The tensors of <paramref name="blob"/>, owned by the caller, or null if they are not here (read the store).
    /// The last expected reader takes the offered tensors; readers before it get copies. Copying is plain memory
    /// work, no libtorch kernel, so it may run on any thread.
    /// </summary>
    public ParameterSet? Take(BlobRef blob) => Take(KeyOf(blob));

    /// <summary>The delta <see cref="OfferDelta"/> left, owned by the caller, or null if it is gone.</summary>
    public ParameterSet? TakeDelta(string trainerId, string attempt) => Take(DeltaKey(trainerId, attempt));

    private static string KeyOf(BlobRef blob) => $"blob {blob.Sha256}";

    private static string DeltaKey(string trainerId, string attempt) => $"delta of {trainerId} in attempt {attempt}";

    private void Offer(string slot, string key, ParameterSet tensors, int readers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(readers, 1);
        Entry? dropped;
        lock (_lock)
        {
            if (_disposed)
            {
                dropped = new Entry(key, tensors, readers);
            }
            else
            {
                _slots.Remove(slot, out dropped);
                _slots[slot] = new Entry(key, tensors, readers);
            }
        }
        if (dropped is not null)
            dropped.Tensors.Dispose();
    }

    private ParameterSet? Take(string key)
    {
        lock (_lock)
        {
            var (slot, entry) = _slots.FirstOrDefault(s => s.Value.Key == key);
            if (entry is null)
                return null;
            Served++;
            if (--entry.Readers > 0)
                return entry.Tensors.Copy();
            _slots.Remove(slot);
            return entry.Tensors;
        }
    }

    public void Dispose()
    {
        List<Entry> dropped;
        lock (_lock)
        {
            _disposed = true;
            dropped = [.. _slots.Values];
            _slots.Clear();
        }
        dropped.ForEach(e => e.Tensors.Dispose());
    }


    private sealed class Entry(string key, ParameterSet tensors, int readers)
    {
        public string Key { get; } = key;

        public ParameterSet Tensors { get; } = tensors;

        public int Readers { get; set; } = readers;
    }

    private sealed class Provider : ExtensionIdProvider<TensorHandoff>
    {
        public override TensorHandoff CreateExtension(ExtendedActorSystem system)
        {
            var handoff = new TensorHandoff();
            system.RegisterOnTermination(handoff.Dispose);
            return handoff;
        }
    }
}
