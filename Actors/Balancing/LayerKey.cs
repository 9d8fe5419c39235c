namespace Moe.Actors.Balancing;

/// <summary>Names one layer balancer: the MoE layer <paramref name="Layer"/> (0-based, in depth order) of a job.</summary>
public sealed record LayerKey(string JobId, int Layer)
{
    /// <summary>The shard entity id, "job/layer". Job ids never contain '/' (see <see cref="JobIds"/>).</summary>
    public string EntityId => $"{JobId}/{Layer}";

    public string PersistenceId => $"layer-balancer/{JobId}/{Layer}";

    public static LayerKey Parse(string entityId)
    {
        var slash = entityId.LastIndexOf('/');
        if (slash <= 0 || !int.TryParse(entityId.AsSpan(slash + 1), out var layer) || layer < 0)
            throw new ArgumentException($"Not a layer balancer id (expected \"job/layer\"): \"{entityId}\".", nameof(entityId));
        return new LayerKey(entityId[..slash], layer);
    }

    public override string ToString() => EntityId;
}

/// <summary>Job ids end up in entity ids, persistence ids, topic names and folder names, so they are kept plain.</summary>
public static class JobIds
{
    public static bool IsValid(string? jobId) =>
        !string.IsNullOrEmpty(jobId) && jobId.Length <= 64 &&
        jobId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    public static void Validate(string? jobId)
    {
        if (!IsValid(jobId))
            throw new ArgumentException(
                $"Job id \"{jobId}\" is invalid: use 1 to 64 ASCII letters, digits, '-', '_' or '.'.", nameof(jobId));
    }
}
