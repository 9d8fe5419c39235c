using Akka.Actor;
using Moe.Actors;
using Moe.Actors.Blobs;
using Moe.Actors.Hosting;
using Moe.Actors.Training;

namespace Moe.Cluster.Host.Hosting;

/// <summary>Talks to the coordinator singleton (through this node's proxy) on behalf of a command.</summary>
internal static class JobClient
{
    /// <summary>Starts the job, or resumes it; the singleton may take a moment to start, so this asks until it answers.</summary>
    public static async Task<JobStatus> StartAsync(IActorRef coordinator, StartJob job, CancellationToken cancellation)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var reply = await coordinator.Ask<IMoeMessage>(job, TimeSpan.FromSeconds(10), cancellation);
                return reply switch
                {
                    JobStatus status => status,
                    JobRejected rejected => throw new JobRefusedException(rejected.Reason),
                    _ => throw new InvalidOperationException($"Unexpected answer {reply}."),
                };
            }
            catch (AskTimeoutException) when (attempt < 12)
            {
            }
        }
    }

    /// <summary>Where the final parameters are, for a directory store; else the blob id.</summary>
    public static string Locate(NodeSettings settings, BlobRef parameters) =>
        settings.CreateBlobStore() is DirectoryBlobStore store ? store.PathOf(parameters) : parameters.Sha256;
}

/// <summary>The coordinator refused the job; the message says why.</summary>
internal sealed class JobRefusedException(string message) : Exception(message);
