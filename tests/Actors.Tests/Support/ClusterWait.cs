using Akka.Actor;
using Moe.Actors.Training;

namespace Moe.Actors.Tests.Support;

internal static class ClusterWait
{
    /// <summary>Polls the coordinator (through its proxy) until its status satisfies <paramref name="done"/>.</summary>
    public static async Task<JobStatus> ForStatus(IActorRef coordinator, Func<JobStatus, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        JobStatus? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await coordinator.Ask<JobStatus>(GetJobStatus.Instance, TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
                if (done(last))
                    return last;
            }
            catch (AskTimeoutException)
            {
                // The singleton is moving: ask again.
            }
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
        throw new TimeoutException($"The job did not reach the expected state in {timeout}; last status: {last}.");
    }
}
