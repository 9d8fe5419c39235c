using k8s;
using k8s.Models;

namespace Moe.Actors.Hosting.Bootstrap;

/// <summary>
/// The contact points of the cluster's pods, from the Kubernetes API: running pods that match the label selector,
/// with an IP and a container port named <see cref="DiscoverySettings.ManagementPortName"/>. Needs get/list on pods.
/// </summary>
public sealed class KubernetesPods : IDisposable
{
    private readonly Kubernetes _client;
    private readonly string _namespace;
    private readonly string _labelSelector;

    public KubernetesPods(DiscoverySettings settings)
    {
        // In a pod the service account gives the API address, token, CA and namespace; ApiServer is for tests.
        var config = settings.ApiServer is { } server
            ? new KubernetesClientConfiguration { Host = server }
            : KubernetesClientConfiguration.InClusterConfig();
        _client = new Kubernetes(config);
        _namespace = settings.PodNamespace ?? config.Namespace
            ?? throw new ArgumentException("Discovery:PodNamespace is required outside a pod (no service account namespace to read).");
        _labelSelector = settings.PodLabelSelector!;
    }

    public string Describe() => $"pods with labels {_labelSelector} in namespace {_namespace}";

    public async Task<IReadOnlyList<Uri>> ContactPointsAsync(CancellationToken cancellation)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        var pods = await _client.CoreV1.ListNamespacedPodAsync(_namespace, labelSelector: _labelSelector, cancellationToken: timeout.Token)
            .ConfigureAwait(false);
        return [.. pods.Items.Select(ContactPoint).OfType<Uri>().Distinct().OrderBy(u => u.ToString(), StringComparer.Ordinal)];
    }

    /// <summary>
    /// Null for a pod that is terminating, not running, has no IP yet, no management port, or whose container with
    /// that port is not running (crash-looping pods stay in phase Running and would hold up the bootstrap).
    /// </summary>
    public static Uri? ContactPoint(V1Pod pod)
    {
        if (pod.Metadata?.DeletionTimestamp is not null || pod.Status?.Phase != "Running" || string.IsNullOrEmpty(pod.Status.PodIP))
            return null;
        var container = pod.Spec?.Containers?.FirstOrDefault(c => c.Ports?.Any(p => p.Name == DiscoverySettings.ManagementPortName) == true);
        if (container is null || pod.Status.ContainerStatuses?.FirstOrDefault(c => c.Name == container.Name)?.State?.Running is null)
            return null;
        var port = container.Ports.First(p => p.Name == DiscoverySettings.ManagementPortName).ContainerPort;
        var host = pod.Status.PodIP.Contains(':', StringComparison.Ordinal) ? $"[{pod.Status.PodIP}]" : pod.Status.PodIP; // IPv6
        return new Uri($"http://{host}:{port}/");
    }

    public void Dispose() => _client.Dispose();
}
