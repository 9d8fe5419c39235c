namespace Moe.Actors.Training.Protocol;

/// <summary>
/// How stale a trainer's global q may be in a round: the job's <see cref="JobSpec.MaxStaleness"/> to start with, one
/// step more after each committed round in which the trainers spent more than <see cref="WaitBudget"/> of their time
/// waiting for q, up to <see cref="Ceiling"/>. A bound of S steps lets q take S step times to come back; a GPU's short
/// steps need more of them than a CPU's long ones, and the job's own rounds say how many. A pure function of the
/// committed rounds, so a recovered coordinator and a report compute the same bounds.
/// </summary>
public static class StalenessBound
{
    public const double WaitBudget = 0.05;

    public const int Ceiling = 8;

    /// <summary>The bound of the round that follows <paramref name="committed"/> (the job's rounds so far, in order).</summary>
    public static int After(JobSpec spec, IEnumerable<RoundCommittedEvent> committed)
    {
        var bound = spec.MaxStaleness;
        foreach (var round in committed)
        {
            if (round.WaitShare > WaitBudget && bound < Math.Max(spec.MaxStaleness, Ceiling))
                bound++;
        }
        return bound;
    }
}
