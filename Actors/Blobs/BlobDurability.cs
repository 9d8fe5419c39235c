namespace Moe.Actors.Blobs;

/// <summary>Whether a stored blob must survive a power loss, or only a crash of the process.</summary>
public enum BlobDurability
{
    /// <summary>On disk before it becomes visible: what a committed round points at (parameters, outer momentum).</summary>
    Durable,

    /// <summary>
    /// Visible once complete but left to the page cache (a sync would lengthen the round boundary): a delta,
    /// which no committed state points at. After a power loss its round runs again, and a damaged file is refused on
    /// read. It never replaces a stored blob of the same content, which may be durable.
    /// </summary>
    Transient,
}
