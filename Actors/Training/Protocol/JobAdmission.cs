using Akka.Actor;

namespace Moe.Actors.Training.Protocol;

/// <summary>
/// Whether a start request creates the cluster's job, resumes it, or is refused; and the requests that wait while
/// a job is being created (two coordinator nodes may ask at once). A resume compares only the settings the user
/// gave explicitly with the ones the job recorded, so a preset or default that changed since never blocks it.
/// </summary>
public sealed class JobAdmission
{
    private readonly List<(StartJob Command, IActorRef ReplyTo)> _waiting = [];
    private bool _creating;

    public abstract record Verdict
    {
        /// <summary>Create the job; call <see cref="Settled"/> once it exists or failed.</summary>
        public sealed record Create : Verdict;

        /// <summary>The job runs already: the request resumes it.</summary>
        public sealed record Running : Verdict;

        /// <summary>Answered once the job being created exists (or failed).</summary>
        public sealed record Waiting : Verdict;

        public sealed record Rejected(string Reason) : Verdict;
    }

    public Verdict Admit(JobSpec? running, StartJob command, IActorRef replyTo)
    {
        try
        {
            command.Spec.Validate();
        }
        catch (ArgumentException e)
        {
            return new Verdict.Rejected(e.Message);
        }
        if (running is not null)
        {
            if (running.JobId != command.Spec.JobId)
                return new Verdict.Rejected($"job \"{running.JobId}\" is running on this cluster; one job per cluster");
            var differences = Differences(running, command);
            return differences.Count == 0
                ? new Verdict.Running()
                : new Verdict.Rejected($"job \"{running.JobId}\" exists with other settings ({string.Join("; ", differences)}); resume it with the recorded settings or start a new job id");
        }
        if (_creating)
        {
            _waiting.Add((command, replyTo));
            return new Verdict.Waiting();
        }
        _creating = true;
        return new Verdict.Create();
    }

    /// <summary>The job was created or its creation failed: the requests that waited, to admit again.</summary>
    public IReadOnlyList<(StartJob Command, IActorRef ReplyTo)> Settled()
    {
        _creating = false;
        var waiting = _waiting.ToList();
        _waiting.Clear();
        return waiting;
    }

    /// <summary>
    /// Each explicitly given setting that differs from the recorded one, as "Name: recorded X, given Y". Slices given
    /// as null ask for what the job decided when it started, so they match whatever it recorded.
    /// </summary>
    public static IReadOnlyList<string> Differences(JobSpec recorded, StartJob request) =>
        [.. request.Explicit.Distinct(StringComparer.Ordinal)
            .Select(name => (Name: name, Recorded: JobSpec.Setting(recorded, name), Given: JobSpec.Setting(request.Spec, name)))
            .Where(s => !Equals(s.Recorded, s.Given) && !(s.Name == nameof(JobSpec.Slices) && s.Given is null))
            .Select(s => $"{s.Name}: recorded {s.Recorded ?? "none"}, given {s.Given ?? "none"}")];
}
