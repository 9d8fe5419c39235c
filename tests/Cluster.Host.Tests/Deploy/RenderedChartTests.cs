using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;
using Moe.Actors.Hosting;
using Moe.Actors.Training;
using Moe.Cluster.Host.Configuration;
using YamlDotNet.RepresentationModel;

namespace Moe.Cluster.Host.Tests.Deploy;

/// <summary>
/// The chart as Helm's engine renders it, for every documented variant of values: each document is a Kubernetes
/// object, and every pod's environment binds to the program's configuration, which refuses unknown keys.
/// </summary>
[Trait("Category", "Integration")]
public sealed class RenderedChartTests : IDisposable
{
    private const string Password = "secret";
    private readonly string _certificate = Path.GetTempFileName();

    public RenderedChartTests()
    {
        using var key = RSA.Create(2048);
        using var certificate = new CertificateRequest("CN=moe", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllBytes(_certificate, certificate.Export(X509ContentType.Pkcs12, Password));
    }

    public void Dispose() => File.Delete(_certificate);

    public static TheoryData<string, string> Variants => new()
    {
        { "defaults", "{}" },
        { "a standby coordinator on a shared volume", "blobs: {mode: shared}\ncoordinator: {replicas: 2}" },
        { "a MinIO bucket", "blobs: {mode: s3, s3: {bucket: moe, endpoint: 'http://minio:9000', pathStyle: true, existingSecret: minio-keys}}\ncoordinator: {replicas: 2}" },
        { "TLS", "tls: {enabled: true, existingSecret: cluster-tls}" },
        { "GPU trainers", "image: {variant: cuda}\ntrainer: {gpu: {enabled: true, count: 4}}" },
        { "an external PostgreSQL", "postgresql: {enabled: false, external: {existingSecret: pg}}" },
        { "jobs started by hand", "job: {enabled: false}" },
        { "a job in slices with bfloat16 deltas", "blobs: {mode: s3, s3: {bucket: moe}}\njob: {slices: 4, deltaPrecision: Bf16}" },
        { "a model of its own shape", "job: {shape: {Layers: 8, Dim: 512, Heads: 8, Experts: 32, TopK: 4, GradientAccumulation: 2}}" },
        { "sizes from plan --helm", "trainer: {resources: {requests: {memory: 10Gi}, limits: {memory: 12Gi}}, scratchSize: 3Gi}\ncoordinator: {persistence: {size: 8Gi}}" },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Every_document_is_a_kubernetes_object_and_every_pods_environment_binds(string variant, string values)
    {
        var (documents, error) = ChartRenderer.Render(values);

        Assert.True(error.Length == 0, $"{variant}: {error}");
        Assert.NotEmpty(documents);
        Assert.All(documents, d => Assert.True(d.Scalar("apiVersion") is { Length: > 0 } && d.Scalar("kind") is { Length: > 0 }, $"{variant}: a document without apiVersion or kind"));
        var nodes = Nodes(documents).ToList();
        Assert.Equal(2, nodes.Count); // the coordinator's pods and the trainers'
        foreach (var (_, configuration) in nodes)
            _ = HostConfiguration.Node(configuration); // strict: an unknown or malformed key throws
        var coordinator = nodes.Single(n => n.Node.Has(NodeRoles.Coordinator)).Configuration;
        if (coordinator.GetSection("Job").Exists())
            _ = HostConfiguration.Job(coordinator, new JobSpec { JobId = "x" });
    }

    [Fact]
    public void A_pod_with_four_gpus_runs_four_trainers_one_on_each()
    {
        var (documents, error) = ChartRenderer.Render("image: {variant: cuda}\ntrainer: {gpu: {enabled: true, count: 4}}");

        Assert.Equal("", error);
        var deployment = documents.Single(d => d.Scalar("kind") == "Deployment");
        var container = (YamlMappingNode)((YamlSequenceNode)deployment.At("spec.template.spec.containers")!).Children[0];
        Assert.Equal("4", container.Scalar("resources.limits.nvidia.com/gpu") ?? ((YamlMappingNode)container.At("resources.limits")!).Children
            .Single(c => ((YamlScalarNode)c.Key).Value == "nvidia.com/gpu").Value.ToString());
        var trainer = Nodes(documents).Single(n => n.Node.Has(NodeRoles.Trainer) && !n.Node.Has(NodeRoles.Coordinator)).Node;
        Assert.Equal(["cuda:0", "cuda:1", "cuda:2", "cuda:3"], DevicePolicy.Trainers(trainer.Trainer, gpus: 4, cores: 16).Select(t => t.Device));
    }

    [Fact]
    public void The_shape_and_tls_reach_the_pods_as_the_program_reads_them()
    {
        var (documents, error) = ChartRenderer.Render("tls: {enabled: true, existingSecret: cluster-tls}\njob: {shape: {Layers: 8, Experts: 32, TopK: 4}}");

        Assert.Equal("", error);
        var nodes = Nodes(documents).ToList();
        var coordinator = nodes.Single(n => n.Node.Has(NodeRoles.Coordinator));
        var job = HostConfiguration.Job(coordinator.Configuration, new JobSpec { JobId = "x" }).Spec;
        Assert.Equal((8, 32, 4), (job.Model.Layers, job.Model.Experts, job.Model.TopK));
        Assert.StartsWith("https://", coordinator.Node.Blobs.ServeUrl, StringComparison.Ordinal);
        Assert.All(nodes, n => Assert.True(n.Node.Tls.Enabled));
        Assert.Equal("https", nodes.Single(n => !n.Node.Has(NodeRoles.Coordinator)).Node.Blobs.Url!.Scheme);
    }

    [Fact]
    public void The_slices_and_the_delta_precision_reach_the_coordinator_and_unset_slices_stay_for_the_job_to_decide()
    {
        JobSpec JobOf(string values)
        {
            var (documents, error) = ChartRenderer.Render(values);
            Assert.Equal("", error);
            var coordinator = Nodes(documents).Single(n => n.Node.Has(NodeRoles.Coordinator));
            return HostConfiguration.Job(coordinator.Configuration, new JobSpec { JobId = "x" }).Spec;
        }

        var sliced = JobOf("job: {slices: 4, deltaPrecision: Bf16}");
        var unset = JobOf("{}");

        Assert.Equal((4, Moe.Model.Training.Rounds.DeltaPrecision.Bf16), (sliced.Slices, sliced.DeltaPrecision));
        Assert.Equal(((int?)null, Moe.Model.Training.Rounds.DeltaPrecision.Fp32), (unset.Slices, unset.DeltaPrecision));
    }

    [Theory]
    [InlineData("trainer: {gpu: {enabled: true}}", "trainer.gpu.enabled needs the CUDA image")]
    [InlineData("coordinator: {replicas: 2}", "blobs.mode=http serves blobs from one coordinator pod's volume")]
    [InlineData("tls: {enabled: true}", "tls.existingSecret is required when tls.enabled is true")]
    [InlineData("blobs: {mode: s3}", "blobs.s3.bucket is required when blobs.mode is s3")]
    public void A_variant_that_cannot_work_is_refused_by_the_chart_with_what_to_set(string values, string expected)
    {
        var (_, error) = ChartRenderer.Render(values);

        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_service_monitor_is_rendered_where_the_prometheus_operators_api_exists()
    {
        var without = ChartRenderer.Render("{}").Documents;
        var with = ChartRenderer.Render("{}", "monitoring.coreos.com/v1/ServiceMonitor").Documents;

        Assert.DoesNotContain(without, d => d.Scalar("kind") == "ServiceMonitor");
        Assert.Contains(with, d => d.Scalar("kind") == "ServiceMonitor");
    }

    /// <summary>Each pod template with the program's environment, bound as the program binds it (secrets and the pod IP given sample values).</summary>
    private IEnumerable<(NodeSettings Node, IConfiguration Configuration)> Nodes(IReadOnlyList<YamlMappingNode> documents)
    {
        foreach (var workload in documents.Where(d => d.Scalar("kind") is "StatefulSet" or "Deployment"))
        {
            var container = (YamlMappingNode)((YamlSequenceNode)workload.At("spec.template.spec.containers")!).Children[0];
            if (container.At("env") is not YamlSequenceNode env)
                continue;
            var flags = env.Children.OfType<YamlMappingNode>()
                .Select(e => (Name: e.Scalar("name")!, Value: e.Scalar("value"), From: e.At("valueFrom")))
                .Where(e => e.Name.StartsWith(HostConfiguration.EnvironmentPrefix, StringComparison.Ordinal))
                .Select(e => KeyValuePair.Create(e.Name[HostConfiguration.EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal), (string?)Sample(e.Name, e.Value, e.From)))
                .ToList();
            if (flags.Count == 0)
                continue; // PostgreSQL's
            var configuration = HostConfiguration.Build(null, flags);
            yield return (HostConfiguration.Node(configuration), configuration);
        }
    }

    private string? Sample(string name, string? value, YamlNode? from) => name switch
    {
        "MOE_Node__Tls__CertificatePath" => _certificate, // mounted from the Secret in a real pod
        "MOE_Node__Tls__CertificatePassword" => Password,
        _ when from?.At("fieldRef") is not null => "10.1.2.3", // the pod's IP
        "MOE_Persistence__ConnectionString" => "Host=pg;Username=moe;Password=x",
        _ when from?.At("secretKeyRef") is not null => "from-a-secret",
        _ => value,
    };
}
