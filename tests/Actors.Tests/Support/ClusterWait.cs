using Akka.Actor;
using Moe.Actors.Training;
using Moe.Testing;

namespace Moe.Actors.Tests.Support;

internal static class ClusterWait
{
    /// <summary>Asks the coordinator (through its proxy) until its status satisfies <paramref name="done"/>.</summary>
    public static Task<JobStatus> ForStatus(IActorRef coordinator, Func<JobStatus, bool> done, TimeSpan timeout) =>
        Eventually.Answer<JobStatus, AskTimeoutException>( // the singleton may be moving: ask again
            () => coordinator.Ask<JobStatus>(GetJobStatus.Instance, TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken),
            done, timeout, "the job's status", TestContext.Current.CancellationToken);
}
