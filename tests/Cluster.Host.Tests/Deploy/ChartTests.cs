using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;
using Moe.Actors.Hosting;
using Moe.Actors.Training;
using Moe.Cluster.Host.Configuration;
using Moe.Cluster.Host.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace Moe.Cluster.Host.Tests.Deploy;

/// <summary>The Helm chart's structure, checked without helm or a cluster (see <see cref="ChartFiles"/>).</summary>
public sealed partial class ChartTests
{
    private static IEnumerable<(string File, YamlMappingNode Document)> All() =>
        ChartFiles.TemplateFiles.SelectMany(f => ChartFiles.Documents(File.ReadAllText(f)).Select(d => (Path.GetFileName(f), d)));

    private static YamlMappingNode Kind(string kind, string file) => All().Single(d => d.File == file && d.Document.Scalar("kind") == kind).Document;

    [Fact]
    public void Every_template_parses_as_yaml_and_the_chart_has_every_kind_a_cluster_needs()
    {
        var kinds = All().Select(d => d.Document.Scalar("kind")).ToList();

        string[] required =
        [
            "StatefulSet", "Deployment", "Service", "ServiceAccount", "Role", "RoleBinding", "PodDisruptionBudget",
            "NetworkPolicy", "ServiceMonitor", "ConfigMap", "HorizontalPodAutoscaler", "Secret", "PersistentVolumeClaim",
        ];
        Assert.All(required, k => Assert.Contains(k, kinds));
        Assert.All(All(), d => Assert.False(string.IsNullOrEmpty(d.Document.Scalar("apiVersion")), d.File));
        Assert.Equal(2, kinds.Count(k => k == "StatefulSet")); // coordinator and PostgreSQL
        Assert.Equal(2, kinds.Count(k => k == "PodDisruptionBudget"));
        Assert.NotNull(ChartFiles.Sequence("moe-cluster.nodeContainer"));
        Assert.True(File.Exists(Path.Combine(ChartFiles.Templates, "NOTES.txt")));
    }

    [Fact]
    public void The_headless_service_publishes_unready_pods_on_the_container_ports_by_name()
    {
        var service = Kind("Service", "headless-service.yaml");
        var container = (YamlMappingNode)ChartFiles.Sequence("moe-cluster.nodeContainer").Children.Single();
        var containerPorts = ((YamlSequenceNode)container.At("ports")!).Select(p => p.Scalar("name")).ToList();

        Assert.Equal("None", service.Scalar("spec.clusterIP"));
        Assert.Equal("true", service.Scalar("spec.publishNotReadyAddresses"));
        var ports = (YamlSequenceNode)service.At("spec.ports")!;
        Assert.Equal(["remoting", "management"], ports.Select(p => p.Scalar("name")));
        Assert.All(ports, p => Assert.Contains(p.Scalar("targetPort"), containerPorts));
        // The bootstrap looks the management port up by this name on every pod.
        Assert.Contains(DiscoverySettings.ManagementPortName, containerPorts);
        Assert.All(new[] { "startupProbe", "livenessProbe", "readinessProbe" },
            probe => Assert.Equal(DiscoverySettings.ManagementPortName, container.Scalar($"{probe}.httpGet.port")));
        Assert.Equal("/readyz", container.Scalar("readinessProbe.httpGet.path"));
        Assert.Equal("/healthz", container.Scalar("livenessProbe.httpGet.path"));
    }

    [Fact]
    public void Rbac_allows_only_reading_pods_and_binds_the_pods_service_account()
    {
        var role = Kind("Role", "role.yaml");
        var binding = Kind("RoleBinding", "rolebinding.yaml");

        var rule = (YamlMappingNode)((YamlSequenceNode)role.At("rules")!).Children.Single();
        Assert.Equal([""], ((YamlSequenceNode)rule.At("apiGroups")!).Select(n => ((YamlScalarNode)n).Value));
        Assert.Equal(["pods"], ((YamlSequenceNode)rule.At("resources")!).Select(n => ((YamlScalarNode)n).Value));
        Assert.Equal(["get", "watch", "list"], ((YamlSequenceNode)rule.At("verbs")!).Select(n => ((YamlScalarNode)n).Value));
        Assert.Equal("Role", binding.Scalar("roleRef.kind"));
        Assert.Equal(NameExpression(ChartFiles.Text("role.yaml")), Regex.Match(ChartFiles.Text("rolebinding.yaml"), @"roleRef:[\s\S]*name: (\{\{.*\}\})").Groups[1].Value);
        Assert.Contains("include \"moe-cluster.serviceAccountName\"", ChartFiles.Text("rolebinding.yaml"), StringComparison.Ordinal);
        Assert.Contains("serviceAccountName: {{ include \"moe-cluster.serviceAccountName\" . }}", ChartFiles.Define("moe-cluster.nodePodSettings"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("coordinator-statefulset.yaml", "coordinator")]
    [InlineData("trainer-deployment.yaml", "trainer")]
    public void A_workload_selects_exactly_its_pods_and_they_are_node_pods(string file, string component)
    {
        var text = ChartFiles.Text(file);
        var selector = Regex.Match(text, @"matchLabels:\s*\{\{- include ""moe-cluster.componentSelectorLabels"" \(dict ""root"" \$ ""component"" ""(\w+)""\)");
        var podLabels = Regex.Match(text, @"template:\s*metadata:\s*labels:\s*\{\{- include ""moe-cluster.componentLabels"" \(dict ""root"" \$ ""component"" ""(\w+)""\) \| nindent 8 \}\}\s*moe-cluster/node: ""true""");

        Assert.Equal(component, selector.Groups[1].Value);
        Assert.Equal(component, podLabels.Groups[1].Value);
        Assert.Contains($"(dict \"root\" $ \"component\" \"{component}\")", Regex.Match(ChartFiles.Text("poddisruptionbudgets.yaml"), $@"matchLabels:\s*\{{\{{- include ""moe-cluster.componentSelectorLabels"" \(dict ""root"" \$ ""component"" ""{component}""\)").Value, StringComparison.Ordinal);
        // Every label the helpers' selector labels contain is also in componentLabels (a superset), so selectors match.
        Assert.Contains("{{ include \"moe-cluster.selectorLabels\" .root }}", ChartFiles.Define("moe-cluster.componentSelectorLabels"), StringComparison.Ordinal);
        Assert.Contains("{{ include \"moe-cluster.labels\" .root }}", ChartFiles.Define("moe-cluster.componentLabels"), StringComparison.Ordinal);
        Assert.Contains("{{ include \"moe-cluster.selectorLabels\" . }}", ChartFiles.Define("moe-cluster.labels"), StringComparison.Ordinal);
    }

    [Fact]
    public void Services_policies_and_the_bootstrap_select_node_pods_by_the_same_labels()
    {
        var selectorLabels = ChartFiles.Define("moe-cluster.selectorLabels").Split('\n').Select(l => l.Split(':')[0].Trim()).Where(k => k.Length > 0).ToList();
        var bootstrapSelector = ((YamlSequenceNode)((YamlMappingNode)ChartFiles.Sequence("moe-cluster.nodeContainer").Children.Single()).At("env")!)
            .Single(e => e.Scalar("name") == "MOE_Discovery__PodLabelSelector");
        var selectorText = Regex.Match(ChartFiles.Define("moe-cluster.nodeContainer"), @"MOE_Discovery__PodLabelSelector\s*value: \{\{ printf ""([^""]+)""").Groups[1].Value;

        Assert.Equal(["app.kubernetes.io/name", "app.kubernetes.io/instance"], selectorLabels);
        Assert.NotNull(bootstrapSelector);
        Assert.Equal("app.kubernetes.io/name=%s,app.kubernetes.io/instance=%s,moe-cluster/node=true", selectorText);
        foreach (var file in new[] { "headless-service.yaml", "metrics-service.yaml", "networkpolicy.yaml" })
            Assert.Contains("moe-cluster/node: \"true\"", ChartFiles.Text(file), StringComparison.Ordinal);
        Assert.Contains("app.kubernetes.io/component: metrics", Regex.Match(ChartFiles.Text("servicemonitor.yaml"), @"selector:[\s\S]*?endpoints").Value, StringComparison.Ordinal);
        Assert.Contains("app.kubernetes.io/component: metrics", ChartFiles.Text("metrics-service.yaml"), StringComparison.Ordinal);
        Assert.Contains("(dict \"root\" $ \"component\" \"coordinator\")", Regex.Match(ChartFiles.Text("blobs-service.yaml"), @"selector:\s*\{\{.*\}\}").Value, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_sizes_the_charts_pods_and_volumes_from_the_memory_plan_with_values_the_chart_has()
    {
        var plan = new Moe.Model.Training.MemoryPlan(0, 0, ParameterBytes: 4L << 30, GradientBytes: 4L << 30, OptimizerBytes: 8L << 30, ActivationBytes: 6L << 30,
            RoundCopyBytes: 8L << 30, CoordinatorBytes: 16L << 30);
        var leaves = Leaves(ChartFiles.Values(), "").ToList();

        var cpu = new ChartSizing(TrainersPerPod: 2, Gpu: false, Trainers: 8, KeepRounds: 2).Values(plan);
        var gpu = new ChartSizing(TrainersPerPod: 4, Gpu: true, Trainers: 8, KeepRounds: 2).Values(plan);

        Assert.All(cpu.Keys, key => Assert.Contains(leaves, leaf => key == leaf || key.StartsWith(leaf + ".", StringComparison.Ordinal))); // resources pass through whole
        Assert.Equal("61Gi", cpu["trainer.resources.requests.memory"]); // 2 x (30 GiB + 64 MiB), rounded up
        Assert.Equal("49Gi", gpu["trainer.resources.requests.memory"]); // 4 x (8 + 4 GiB + 64 MiB): the device holds the rest
        Assert.Equal("18Gi", cpu["coordinator.resources.requests.memory"]); // 16 GiB + 64 MiB + 1 GiB
        Assert.Equal("75Gi", cpu["coordinator.persistence.size"]); // (3 x 2 + 8 + 1) x 4 GiB x 1.25
        Assert.Equal("12Gi", cpu["trainer.scratchSize"]); // (2 x 4 + 1) GiB x 1.25
    }

    [Fact]
    public void The_dashboard_config_map_ships_the_repositorys_dashboard_for_the_grafana_sidecar()
    {
        var shipped = File.ReadAllBytes(Path.Combine(RepositoryRoot.Path, "Observability", "dashboards", "moe-cluster.json"));
        var inChart = File.ReadAllBytes(Path.Combine(ChartFiles.Chart, "dashboards", "moe-cluster.json"));
        var map = Kind("ConfigMap", "dashboard-configmap.yaml");

        Assert.Equal(shipped, inChart); // copy Observability/dashboards/moe-cluster.json here when it changes
        Assert.Equal("1", map.Scalar("metadata.labels.grafana_dashboard"));
        Assert.Contains(".Files.Get \"dashboards/moe-cluster.json\"", ChartFiles.Text("dashboard-configmap.yaml"), StringComparison.Ordinal);
    }

    [Fact]
    public void The_values_schema_accepts_the_default_values_and_rejects_a_typo_or_a_wrong_enum()
    {
        var schema = JsonSchema.FromFile(Path.Combine(ChartFiles.Chart, "values.schema.json"));
        var values = ToJson(ChartFiles.Values())!.AsObject();
        var typo = values.DeepClone().AsObject();
        typo["trainer"]!.AsObject()["replica"] = 3;
        var badMode = values.DeepClone().AsObject();
        badMode["blobs"]!.AsObject()["mode"] = "nfs";
        var shapeTypo = values.DeepClone().AsObject();
        shapeTypo["job"]!.AsObject()["shape"] = new System.Text.Json.Nodes.JsonObject { ["Layers"] = 8, ["Expert"] = 32 };
        var options = new EvaluationOptions { OutputFormat = OutputFormat.List };

        var accepted = schema.Evaluate(System.Text.Json.JsonSerializer.SerializeToElement(values), options);
        var rejectedTypo = schema.Evaluate(System.Text.Json.JsonSerializer.SerializeToElement(typo), options);
        var rejectedMode = schema.Evaluate(System.Text.Json.JsonSerializer.SerializeToElement(badMode), options);
        var rejectedShape = schema.Evaluate(System.Text.Json.JsonSerializer.SerializeToElement(shapeTypo), options);

        Assert.True(accepted.IsValid, string.Join("; ", (accepted.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))));
        Assert.False(rejectedTypo.IsValid);
        Assert.Contains(rejectedTypo.Details ?? [], d => d.Errors is not null && d.InstanceLocation.ToString().Contains("replica", StringComparison.Ordinal));
        Assert.False(rejectedMode.IsValid);
        Assert.False(rejectedShape.IsValid); // "Expert" is no shape key
    }

    [Fact]
    public void The_job_shape_takes_exactly_the_programs_shape_keys_and_binds_them()
    {
        var keys = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(ChartFiles.Chart, "values.schema.json")))!
            ["properties"]!["job"]!["properties"]!["shape"]!["propertyNames"]!["enum"]!.AsArray().Select(k => k!.GetValue<string>()).ToList();
        var bound = HostConfiguration.Job(HostConfiguration.Build(null, [
            KeyValuePair.Create("Job:Layers", (string?)"8"), KeyValuePair.Create("Job:Experts", (string?)"32"), KeyValuePair.Create("Job:TopK", (string?)"4"),
            KeyValuePair.Create("Job:ScoreFunction", (string?)"sigmoid"), KeyValuePair.Create("Job:SharedExpert", (string?)"true")]), new JobSpec { JobId = "x", Preset = "tiny" });

        Assert.Equal(keys.Order(StringComparer.Ordinal), JobSpec.SettingNames.Where(keys.Contains).Order(StringComparer.Ordinal)); // every one is a job setting
        Assert.Contains("Dim", keys);
        Assert.Equal((8, 32, 4, Moe.Model.Routing.ScoreFunction.Sigmoid, true),
            (bound.Spec.Model.Layers, bound.Spec.Model.Experts, bound.Spec.Model.TopK, bound.Spec.Model.ScoreFunction, bound.Spec.Model.SharedExpert));
    }

    [Fact]
    public void Every_value_is_used_by_a_template_documented_in_the_readme_and_every_used_value_exists()
    {
        var templates = string.Concat(Directory.GetFiles(ChartFiles.Templates).Select(File.ReadAllText));
        var readme = File.ReadAllText(Path.Combine(ChartFiles.Chart, "README.md"));
        var leaves = Leaves(ChartFiles.Values(), "").ToList();
        var used = ValuesPath().Matches(templates).Select(m => m.Groups[1].Value).Distinct().ToList();

        Assert.All(leaves, leaf => Assert.True(used.Any(u => u == leaf || leaf.StartsWith(u + ".", StringComparison.Ordinal)), $"{leaf} is not used by any template"));
        Assert.All(leaves, leaf => Assert.Contains($"| `{leaf}` |", readme, StringComparison.Ordinal));
        Assert.All(used, u => Assert.True(ChartFiles.Values().At(u) is not null, $".Values.{u} is used but not in values.yaml"));
    }

    [Fact]
    public void Pods_run_as_non_root_without_privileges_and_outlive_the_coordinated_shutdown()
    {
        var values = ChartFiles.Values();
        var container = (YamlMappingNode)ChartFiles.Sequence("moe-cluster.nodeContainer").Children.Single();
        var mounts = ((YamlSequenceNode)container.At("volumeMounts")!).Select(m => m.Scalar("mountPath")).ToList();

        Assert.Equal("true", values.Scalar("podSecurityContext.runAsNonRoot"));
        Assert.NotEqual("0", values.Scalar("podSecurityContext.runAsUser"));
        Assert.Equal("false", values.Scalar("securityContext.allowPrivilegeEscalation"));
        Assert.Equal("true", values.Scalar("securityContext.readOnlyRootFilesystem"));
        Assert.Equal(["ALL"], ((YamlSequenceNode)values.At("securityContext.capabilities.drop")!).Select(n => ((YamlScalarNode)n).Value));
        Assert.Contains("/data", mounts); // the only writable places under a read-only root file system
        Assert.Contains("/tmp", mounts);
        Assert.True(int.Parse(values.Scalar("terminationGracePeriodSeconds")!, System.Globalization.CultureInfo.InvariantCulture) > Cli.ShutdownTimeout.TotalSeconds);
        Assert.Contains("nvidia.com/gpu", ChartFiles.Define("moe-cluster.trainerResources"), StringComparison.Ordinal);
        Assert.Contains("ternary \"cuda\" \"cpu\" .Values.trainer.gpu.enabled", ChartFiles.Define("moe-cluster.trainerEnv"), StringComparison.Ordinal);
        Assert.Contains("if and .Values.trainer.gpu.enabled (ne .Values.image.variant \"cuda\")", ChartFiles.Text("trainer-deployment.yaml"), StringComparison.Ordinal);
    }

    [Fact]
    public void Network_policies_keep_remoting_inside_the_release()
    {
        var policy = Kind("NetworkPolicy", "networkpolicy.yaml");
        var rules = (YamlSequenceNode)policy.At("spec.ingress")!;
        var fromPods = rules.Single(r => ((YamlSequenceNode)r.At("ports")!).Any(p => p.Scalar("port") == "remoting"));
        var others = rules.Where(r => r != fromPods).ToList();

        Assert.Equal(["Ingress"], ((YamlSequenceNode)policy.At("spec.policyTypes")!).Select(n => ((YamlScalarNode)n).Value));
        Assert.NotNull(((YamlSequenceNode)fromPods.At("from")!).Single().At("podSelector"));
        Assert.All(others, r => Assert.Equal(["management"], ((YamlSequenceNode)r.At("ports")!).Select(p => p.Scalar("port"))));
    }

    private static string NameExpression(string template) => Regex.Match(template, @"metadata:\s*name: (\{\{.*\}\})").Groups[1].Value;

    private static readonly HashSet<string> FreeForm = ["resources", "nodeSelector", "affinity", "labels", "podSecurityContext", "securityContext", "tolerations", "imagePullSecrets", "metricsFrom"];

    private static IEnumerable<string> Leaves(YamlNode node, string path) =>
        node is YamlMappingNode map && !FreeForm.Contains(path.Split('.')[^1]) && map.Children.Count > 0
            ? map.Children.SelectMany(c => Leaves(c.Value, path.Length == 0 ? ((YamlScalarNode)c.Key).Value! : $"{path}.{((YamlScalarNode)c.Key).Value}"))
            : [path];

    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value!, ToJson(c.Value)))),
        YamlSequenceNode list => new JsonArray([.. list.Children.Select(ToJson)]),
        YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain } scalar => scalar.Value switch
        {
            "true" => JsonValue.Create(true),
            "false" => JsonValue.Create(false),
            "null" or "~" or "" => null,
            var v when long.TryParse(v, out var n) => JsonValue.Create(n),
            var v => JsonValue.Create(v),
        },
        YamlScalarNode scalar => JsonValue.Create(scalar.Value),
        _ => throw new NotSupportedException(node.GetType().Name),
    };

    [GeneratedRegex(@"\.Values\.([A-Za-z0-9_.]+[A-Za-z0-9_])")]
    private static partial Regex ValuesPath();
}
