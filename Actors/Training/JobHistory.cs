using Akka.Actor;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Moe.Actors.Blobs;

namespace Moe.Actors.Training;

/// <summary>
/// A job as its coordinator's journal records it: the spec, the initial parameters and every committed round in
/// order (a rollback to an earlier checkpoint takes the rounds after it out: they ran again). It is what reports are made of, read from the database rather than from logs or a live coordinator.
/// </summary>
public sealed record JobHistory(JobSpec Spec, BlobRef InitialParameters, IReadOnlyList<RoundCommittedEvent> Rounds)
{
    public bool Finished => Rounds.Count >= Spec.Rounds;

    /// <summary>Each time the job went back to an earlier checkpoint, and why.</summary>
    public IReadOnlyList<RoundsRolledBackEvent> Rollbacks { get; init; } = [];

    /// <summary>Folds the coordinator's events; null when no job was started.</summary>
    public static JobHistory? From(IEnumerable<object> events)
    {
        JobHistory? history = null;
        var rounds = new List<RoundCommittedEvent>();
        var rollbacks = new List<RoundsRolledBackEvent>();
        foreach (var e in events)
        {
            switch (e)
            {
                case JobStartedEvent started:
                    history = new JobHistory(started.Spec, started.Parameters, rounds) { Rollbacks = rollbacks };
                    break;
                case RoundCommittedEvent round when history is null:
                    throw new InvalidDataException($"The job journal has round {round.Round} before the job's start: it is damaged.");
                case RoundCommittedEvent round when round.Round != rounds.Count:
                    throw new InvalidDataException($"The job journal has round {round.Round} where round {rounds.Count} belongs: it is damaged.");
                case RoundCommittedEvent round:
                    rounds.Add(round);
                    break;
                case RoundsRolledBackEvent rollback when history is not null && rollback.ToRound < rounds.Count:
                    rounds.RemoveRange(rollback.ToRound + 1, rounds.Count - rollback.ToRound - 1); // they run again
                    rollbacks.Add(rollback);
                    break;
            }
        }
        return history;
    }

    /// <summary>Reads the history through the SQL read journal of <paramref name="system"/> (a node's or a reader's).</summary>
    public static async Task<JobHistory?> ReadAsync(ActorSystem system, CancellationToken cancellation)
    {
        var journal = PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
        var events = await journal.CurrentEventsByPersistenceId(TrainingCoordinator.JournalId, 0, long.MaxValue)
            .Select(e => e.Event)
            .RunWith(Sink.Seq<object>(), system.Materializer())
            .WaitAsync(cancellation);
        return From(events);
    }
}
