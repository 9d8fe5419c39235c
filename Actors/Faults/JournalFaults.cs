using Akka.Actor;

namespace Moe.Actors.Faults;

/// <summary>
/// What a persistent actor reports when its journal fails it. Akka stops the actor either way, and its backoff
/// supervisor starts it again; a damaged entry or a full disk fails the same way every time, so it ends the node.
/// </summary>
internal static class JournalFaults
{
    public static void RecoveryFailed(this NodeFailures failures, ActorSystem system, string persistenceId, Exception reason)
    {
        if (Failures.Classify(reason) != FailureKind.Input || failures.FindDamaged is not { } find)
        {
            failures.Failed(persistenceId, $"Reading back the journal of {persistenceId}", reason);
            return;
        }
        _ = Task.Run(async () =>
        {
            string? entry;
            try
            {
                entry = await find(system, persistenceId).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                entry = null; // the database failed the search too: the entry stays unnamed
            }
            failures.Failed(persistenceId, $"The journal entry of persistence id {persistenceId} at {entry ?? "an unknown sequence number"} does not read back", reason);
        });
    }

    public static void WriteFailed(this NodeFailures failures, string persistenceId, long sequenceNr, Exception cause) =>
        failures.Failed(persistenceId, $"Writing journal entry {sequenceNr} of {persistenceId}", cause);
}
