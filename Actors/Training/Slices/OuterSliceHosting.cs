using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Moe.Actors.Hosting;
using Moe.Model.Training;

namespace Moe.Actors.Training.Slices;

/// <summary>Marker for the slice owners' shard region (or its proxy) in the actor registry.</summary>
public sealed class OuterSliceRegion;

public static class OuterSliceHosting
{
    public const string TypeName = "outer-slice";

    /// <summary>
    /// Hosts slice owners on trainer nodes and a proxy elsewhere. Slice s of every job is shard s, so S slices
    /// spread over the trainer nodes as evenly as sharding spreads shards, and move when nodes come and go. The
    /// owners of a node share one compute thread of one libtorch thread: a slice step is elementwise. An owner idle
    /// for an hour (its job finished or stopped) stops and releases the slices it kept; a later step reads them back.
    /// </summary>
    public static AkkaConfigurationBuilder WithOuterSlices(this AkkaConfigurationBuilder builder, NodeSettings node)
    {
        var extractor = new SliceMessageExtractor();
        if (!node.Has(NodeRoles.Trainer))
            return builder.WithShardRegionProxy<OuterSliceRegion>(TypeName, NodeRoles.Trainer, extractor);
        var blobs = node.CreateBlobStore();
        var compute = new Lazy<ComputeThread>(() => new ComputeThread("outer slices", intraOpThreads: 1));
        return builder.WithShardRegion<OuterSliceRegion>(
            TypeName,
            entityId => OuterSlice.Props(entityId, blobs, compute.Value),
            extractor,
            new ShardOptions { Role = NodeRoles.Trainer, RememberEntities = false, PassivateIdleEntityAfter = TimeSpan.FromHours(1) });
    }

    /// <summary>Entity "JOB-SLICE" in shard "SLICE".</summary>
    internal sealed class SliceMessageExtractor : IMessageExtractor
    {
        public string? EntityId(object message) => message is IOuterSliceCommand c ? $"{c.JobId}-{c.Slice}" : null;

        public object? EntityMessage(object message) => message;

        public string? ShardId(object message) => message is IOuterSliceCommand c ? ShardOf(c.Slice) : null;

        public string ShardId(string entityId, object? messageHint = null) => ShardOf(int.Parse(entityId[(entityId.LastIndexOf('-') + 1)..],
            System.Globalization.CultureInfo.InvariantCulture));

        private static string ShardOf(int slice) => slice.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
