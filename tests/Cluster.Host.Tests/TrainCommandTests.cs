using System.Globalization;
using Moe.Model.Network;
using Moe.Testing;
using static Moe.Cluster.Host.Tests.Support.CommandLine;

namespace Moe.Cluster.Host.Tests;

/// <summary>`train` and `node` through the real command line: embedded job, resume, and configuration errors.</summary>
[Trait("Category", "Integration")]
public sealed class TrainCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("train-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string Text()
    {
        return SampleText.Write(_directory, sentences: 3000, seed: 3);
    }

    [Fact]
    public async Task Train_runs_a_whole_job_in_one_process_writes_its_report_and_a_second_run_resumes_the_finished_job()
    {
        var data = Path.Combine(_directory, "data");
        string[] args = ["train", "--preset", "tiny", "--rounds", "3", "--inner-steps", "2", "--trainers", "2", "--text", Text(), "--data-dir", data];

        var first = await Run(args);
        var folder = Path.Combine(data, "reports", "train-tiny");
        var markdown = await File.ReadAllTextAsync(Path.Combine(folder, "report.md"), TestContext.Current.CancellationToken);
        var rounds = await File.ReadAllLinesAsync(Path.Combine(folder, "rounds.csv"), TestContext.Current.CancellationToken);
        var parts = await File.ReadAllLinesAsync(Path.Combine(folder, "parts.csv"), TestContext.Current.CancellationToken);
        var again = await Run("report", "--data-dir", data, "--job-id", "train-tiny", "--out", Path.Combine(_directory, "again"));
        var second = await Run(args);
        var changed = await Run([.. args[..4], "4", .. args[5..]]); // same job id, other settings
        var overlapped = await Run([.. args, "--overlap-steps", "1"]); // other than train's default on CPU

        Assert.True(first.Code == 0, first.Error);
        Assert.Contains("finished: 3 rounds", first.Output, StringComparison.Ordinal);
        var model = first.Output.Split('\n').Single(l => l.StartsWith("Model folder: ", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(model["Model folder: ".Length..].Trim(), "model.safetensors")), model); // one line, however long
        Assert.Contains($"Report of job train-tiny (3 of 3 rounds) in {folder}", first.Output, StringComparison.Ordinal);
        Assert.Contains("Finished: 3 of 3 rounds committed.", markdown, StringComparison.Ordinal);
        Assert.Contains("| tokens trained | 3,072 |", markdown, StringComparison.Ordinal); // 3 rounds x 2 trainers x 2 steps x 8 x 32 tokens
        Assert.Contains("| overlap | none: each round starts from the committed parameters |", markdown, StringComparison.Ordinal); // CPU trainers
        Assert.Equal(["round", "committed_at", "seconds", "trainers", "tokens"], rounds[0].Split(',')[..5]);
        Assert.Equal("maxvio_layer_1", rounds[0].Split(',')[^1]);
        Assert.Equal("q_wait_share", rounds[0].Split(',')[10]);
        Assert.All(rounds[1..], r => Assert.InRange(double.Parse(r.Split(',')[10], CultureInfo.InvariantCulture), 0, 1));
        Assert.Equal("q_staleness", rounds[0].Split(',')[11]);
        Assert.Equal("2", rounds[1].Split(',')[11]); // the first round runs with the job's bound
        Assert.Equal(4, rounds.Length);
        Assert.Equal(1 + rounds[1..].Sum(r => int.Parse(r.Split(',')[3], CultureInfo.InvariantCulture)), parts.Length);
        Assert.All(rounds[1..], r => Assert.True(double.Parse(r.Split(',')[8], CultureInfo.InvariantCulture) is >= 0 and < 1, r));
        foreach (var plot in new[] { "loss.png", "maxvio.png", "throughput.png" })
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(Path.Combine(folder, plot))[..4]);
        Assert.True(again.Code == 0, again.Error);
        Assert.Equal(markdown, await File.ReadAllTextAsync(Path.Combine(_directory, "again", "report.md"), TestContext.Current.CancellationToken));
        Assert.True(second.Code == 0, second.Error);
        Assert.Contains("Resuming at round 3 of 3", second.Output, StringComparison.Ordinal);
        foreach (var refused in new[] { changed, overlapped })
        {
            Assert.Equal(2, refused.Code);
            Assert.Contains("exists with other settings", refused.Error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_running_job_serves_prometheus_metrics_and_kubernetes_health_endpoints()
    {
        var port = Moe.Actors.Hosting.MoeNodeHost.FreePort();
        var url = $"http://127.0.0.1:{port}";
        var train = Run("train", "--preset", "tiny", "--rounds", "60", "--inner-steps", "2", "--trainers", "1",
            "--text", Text(), "--data-dir", Path.Combine(_directory, "data"), "--http", url,
            "--overlap-steps", "1"); // moe_round_parameters_wait comes from overlapped rounds, off by default on the CPU
        using var http = new HttpClient { BaseAddress = new Uri(url) };

        string[] wanted =
        [
            "moe_step_duration_seconds_bucket{", "moe_tokens_total{", "moe_layer_max_vio{", "moe_expert_load{",
            "moe_expert_price{", "moe_balancer_summaries_total{", "moe_cluster_members{", "moe_committed_rounds{",
            "moe_round_duration_seconds_bucket{", "moe_checkpoint_size_bytes{", "moe_trainer_joins_total{",
            "moe_round_parameters_wait_seconds_bucket{",
        ];
        string metrics = "";
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (wanted.Any(w => !metrics.Contains(w, StringComparison.Ordinal)) && DateTime.UtcNow < deadline && !train.IsCompleted)
        {
            await Task.Delay(300, TestContext.Current.CancellationToken);
            try
            {
                metrics = await http.GetStringAsync("/metrics", TestContext.Current.CancellationToken);
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
        }
        var live = await http.GetAsync("/healthz", TestContext.Current.CancellationToken);
        var ready = await http.GetAsync("/readyz", TestContext.Current.CancellationToken);
        var (code, _, error) = await train;

        Assert.Equal(System.Net.HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
        foreach (var series in wanted)
        {
            Assert.True(metrics.Contains(series, StringComparison.Ordinal),
                $"{series} missing; the scrape had: {string.Join(", ", metrics.Split('\n').Where(l => l.StartsWith("# TYPE", StringComparison.Ordinal)))}");
        }
        Assert.True(code == 0, error);
    }

    [Fact]
    public async Task A_node_whose_job_is_refused_says_why_and_stays_in_the_cluster()
    {
        var data = Path.Combine(_directory, "data");
        var text = Text();
        var first = await Run("train", "--preset", "tiny", "--rounds", "1", "--inner-steps", "1", "--trainers", "1", "--job-id", "j", "--text", text, "--data-dir", data);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var error = new StringWriter();
        var node = Cli.RunAsync(["node", "--port", "0", "--job-id", "j", "--preset", "tiny", "--rounds", "2", "--inner-steps", "1",
            "--text", text, "--data-dir", data], TextWriter.Null, TextWriter.Synchronized(error), stop.Token);

        for (var deadline = DateTime.UtcNow.AddSeconds(60); !error.ToString().Contains("refused", StringComparison.Ordinal) && DateTime.UtcNow < deadline && !node.IsCompleted;)
            await Task.Delay(100, TestContext.Current.CancellationToken);
        var stillRunning = !node.IsCompleted;
        await stop.CancelAsync();
        var code = await node;

        Assert.True(first.Code == 0, first.Error);
        Assert.Contains("job j refused: job \"j\" exists with other settings", error.ToString(), StringComparison.Ordinal);
        Assert.True(stillRunning, "the node exited instead of staying in the cluster");
        Assert.Equal(0, code);
    }

    [Fact]
    public async Task A_node_serving_blobs_for_a_job_refuses_uploads_over_four_times_its_parameters()
    {
        var token = TestContext.Current.CancellationToken;
        var url = new Uri($"http://127.0.0.1:{Moe.Actors.Hosting.MoeNodeHost.FreePort()}");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(token);
        var node = Cli.RunAsync(["node", "--port", "0", "--roles", "coordinator,balancer", "--serve-blobs", url.ToString(), "--job-id", "j", "--preset", "tiny",
            "--text", Text(), "--data-dir", Path.Combine(_directory, "data")], TextWriter.Null, TextWriter.Null, stop.Token);
        var limit = Moe.Actors.Blobs.BlobStoreSettings.UploadLimitFor(Moe.Model.Network.ModelPresets.Get("tiny").Model.ParameterCount);
        using var http = new HttpClient();
        http.DefaultRequestHeaders.ExpectContinue = true; // the server answers before the body

        async Task<System.Net.HttpStatusCode> Put(long length)
        {
            using var content = new StreamContent(new Unreadable());
            content.Headers.ContentLength = length;
            using var response = await http.PutAsync(new Uri(url, "/blobs/" + new string('e', 64)), content, token);
            return response.StatusCode;
        }

        var status = await Eventually.Answer<System.Net.HttpStatusCode, HttpRequestException>(() => Put(limit + 1), _ => true, TimeSpan.FromSeconds(60), "the blob server", token);
        await stop.CancelAsync();
        await node;

        Assert.Equal(System.Net.HttpStatusCode.RequestEntityTooLarge, status); // the fixed default would have taken it
    }

    /// <summary>A body that must never be read: the server refuses it first.</summary>
    private sealed class Unreadable : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => 0; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new InvalidOperationException("the body was read");
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task A_job_trains_the_shape_given_records_it_and_refuses_another_on_resume()
    {
        var data = Path.Combine(_directory, "data");
        string[] args = ["train", "--preset", "tiny", "--layers", "3", "--dense-layers", "1", "--dim", "48", "--heads", "4", "--experts", "6", "--top-k", "3",
            "--shared-expert", "--score", "sigmoid", "--context", "24", "--vocab", "300", "--batch-size", "4", "--grad-accum", "2", "--rounds", "1", "--inner-steps", "1",
            "--trainers", "1", "--text", Text(), "--data-dir", data];

        var first = await Run(args);
        string[] other = [.. args];
        other[Array.IndexOf(args, "--experts") + 1] = "8";
        var changed = await Run(other);

        Assert.True(first.Code == 0, first.Error);
        var model = new MoeModelConfig
        {
            Layers = 3,
            DenseLayers = 1,
            Dim = 48,
            Heads = 4,
            Experts = 6,
            TopK = 3,
            SharedExpert = true,
            ScoreFunction = Moe.Model.Routing.ScoreFunction.Sigmoid,
            ContextLength = 24,
            VocabSize = 300,
            ExpertHidden = ModelPresets.Get("tiny").Model.ExpertHidden
        };
        Assert.Contains($"model: {model.Describe()}", first.Output, StringComparison.Ordinal);
        Assert.Contains("3 layers (1 dense) of d 48 with 4 heads, 6 experts", first.Output, StringComparison.Ordinal);
        var history = await Moe.Actors.Hosting.JobRecords.ReadAsync(new Moe.Actors.Hosting.NodeSettings { DataDirectory = data }, TestContext.Current.CancellationToken);
        Assert.Equal((3, 48, 6, 3, 300), (history.Spec.Model.Layers, history.Spec.Model.Dim, history.Spec.Model.Experts, history.Spec.Model.TopK, history.Spec.Model.VocabSize));
        Assert.Equal(2, history.Rounds[0].Parts[0].LayerMaxVio.Length); // two MoE layers balanced
        Assert.Equal(2 * 4 * 24, history.Rounds[0].Parts[0].Tokens); // one step of two micro-batches of 4 x 24 tokens
        Assert.Equal(ExitCodes.BadInput, changed.Code);
        Assert.Contains("Experts", changed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_that_has_not_joined_a_cluster_is_live_but_not_ready()
    {
        var url = $"http://127.0.0.1:{Moe.Actors.Hosting.MoeNodeHost.FreePort()}";
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var nobody = $"127.0.0.1:{Moe.Actors.Hosting.MoeNodeHost.FreePort()}"; // a seed that does not exist
        var node = Cli.RunAsync(["node", "--roles", "trainer", "--seed", nobody, "--port", "0", "--http", url,
            "--data-dir", Path.Combine(_directory, "data")], TextWriter.Null, TextWriter.Null, stop.Token);
        using var http = new HttpClient { BaseAddress = new Uri(url) };

        var live = await Eventually.Answer<HttpResponseMessage, HttpRequestException>(() => http.GetAsync("/healthz", TestContext.Current.CancellationToken),
            _ => true, TimeSpan.FromSeconds(30), "the node's HTTP endpoints", TestContext.Current.CancellationToken);
        var ready = await http.GetAsync("/readyz", TestContext.Current.CancellationToken);
        var reason = await ready.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        await stop.CancelAsync();
        var code = await node;

        Assert.Equal(System.Net.HttpStatusCode.OK, live?.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("not ready", reason, StringComparison.Ordinal);
        Assert.Equal(0, code); // Ctrl-C while waiting to join is a clean stop
    }

    [Theory]
    [InlineData("""{ "Node": { "Portt": 4053 } }""", "unknown keys: 'Portt'")]
    [InlineData("""{ "Balancer": { "PendingWindow": "many" } }""", "'many' at 'Balancer:PendingWindow'")]
    [InlineData("""{ "Node": { "SystemName": "my cluster" } }""", "Node:SystemName \"my cluster\" is invalid")]
    [InlineData("""{ "Balancer": { "SnapshotEvery": 0 } }""", "Balancer:SnapshotEvery must be at least 1")]
    [InlineData("""{ "Persistence": { "Provider": "PostgreSql" } }""", "Persistence:ConnectionString is required")]
    [InlineData("""{ "Blobs": { "Kind": "Http" } }""", "Blobs:Url must be an absolute")]
    [InlineData("""{ "Job": { "Rounds": 0 } }""", "Job:Rounds = 0 is invalid")]
    [InlineData("""{ "Trainer": { "Device": "tpu" } }""", "Trainer:Device = tpu is invalid: use auto, cpu, cuda or cuda:N")]
    [InlineData("""{ "Node": """, "not valid JSON")]
    public async Task A_bad_setting_stops_train_with_one_line_naming_the_key(string json, string message)
    {
        var file = Path.Combine(_directory, "settings.json");
        await File.WriteAllTextAsync(file, json, TestContext.Current.CancellationToken);

        // --preset tiny bounds the damage should a bad setting go unnoticed and the job run.
        var (code, _, error) = await Run("train", "--config", file, "--preset", "tiny", "--data-dir", Path.Combine(_directory, "data"));

        Assert.Equal(2, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("train")]
    [InlineData("node")]
    public async Task The_overlap_flag_reaches_the_job_and_a_bad_value_is_named(string command)
    {
        string[] args = [command, "--job-id", "j", "--preset", "tiny", "--overlap-steps", "-1", "--data-dir", Path.Combine(_directory, "data")];
        var (code, _, error) = await Run(command == "node" ? [.. args, "--port", "0"] : args);

        Assert.Equal(2, code);
        Assert.Contains("Job:OverlapSteps = -1 is invalid: use 0 (rounds do not overlap) or more", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Report_names_what_is_wrong_with_a_missing_damaged_or_unreachable_database()
    {
        var damaged = Path.Combine(_directory, "damaged");
        Directory.CreateDirectory(damaged);
        await File.WriteAllBytesAsync(Path.Combine(damaged, "cluster.db"), new byte[4096], TestContext.Current.CancellationToken);

        var missing = await Run("report", "--data-dir", Path.Combine(_directory, "nothing-here"));
        var deadPort = Moe.Actors.Hosting.MoeNodeHost.FreePort();
        var deadServer = await Run("report", "--postgres", $"Host=127.0.0.1;Port={deadPort};Database=moe;Username=moe;Password=hunter2;Timeout=2");
        var corrupt = await Run("report", "--data-dir", damaged);

        Assert.Equal(2, missing.Code);
        Assert.Contains("cluster.db does not exist", missing.Error, StringComparison.Ordinal);
        Assert.Equal(2, corrupt.Code);
        Assert.Contains("is not a usable SQLite database", corrupt.Error, StringComparison.Ordinal);
        Assert.Single(corrupt.Error.Trim().Split('\n'));
        Assert.Equal(2, deadServer.Code);
        Assert.Contains($"PostgreSQL at 127.0.0.1:{deadPort}, database \"moe\", is unreachable", deadServer.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", deadServer.Error, StringComparison.Ordinal);
        Assert.Single(deadServer.Error.Trim().Split('\n'));
    }

    [Fact]
    public async Task During_shutdown_a_node_is_live_but_not_ready_until_its_actor_system_stops()
    {
        var url = $"http://127.0.0.1:{Moe.Actors.Hosting.MoeNodeHost.FreePort()}";
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var node = Cli.RunAsync(["node", "--port", "0", "--http", url, "--data-dir", Path.Combine(_directory, "data")],
            TextWriter.Null, TextWriter.Null, stop.Token);
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(5) };

        var readyBefore = false;
        for (var deadline = DateTime.UtcNow.AddSeconds(60); !readyBefore && DateTime.UtcNow < deadline && !node.IsCompleted;)
        {
            readyBefore = await Probe(http, "/readyz") is (200, _);
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        await stop.CancelAsync();
        var seen = new List<((int Code, string Body) Ready, (int Code, string Body) Live)>();
        while (!node.IsCompleted)
            seen.Add((await Probe(http, "/readyz"), await Probe(http, "/healthz")));
        var code = await node;

        Assert.True(readyBefore, "the node never became ready");
        Assert.Equal(0, code);
        // Kubernetes takes the pod out of the Service at once but does not restart it while the cluster hands over.
        Assert.Contains(seen, s => s.Ready.Code == 503 && s.Ready.Body.Contains("shutting down", StringComparison.Ordinal) && s.Live.Code == 200);
        var leaving = seen.FindIndex(s => s.Ready.Code == 503);
        Assert.DoesNotContain(seen[leaving..], s => s.Ready.Code == 200);
    }

    /// <summary>Status code and body of one probe; code 0 when nothing answers.</summary>
    private static async Task<(int Code, string Body)> Probe(HttpClient http, string path)
    {
        try
        {
            using var response = await http.GetAsync(path, TestContext.Current.CancellationToken);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        }
        catch (HttpRequestException)
        {
            return (0, "");
        }
    }

    [Theory]
    [InlineData("--roles", "trainer,chef", "Node:Roles \"chef\" is unknown")]
    [InlineData("--seed", "nohost", "Node:Seeds \"nohost\" is invalid")]
    [InlineData("--blobs", "http://", "Blobs:Url")]
    [InlineData("--device", "cuda:x", "Trainer:Device = cuda:x is invalid")]
    public async Task A_bad_node_flag_stops_with_the_key_and_what_is_allowed(string flag, string value, string message)
    {
        var (code, _, error) = await Run("node", flag, value, "--data-dir", Path.Combine(_directory, "data"));

        Assert.Equal(2, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new string[0], new[] { "trainer", "balancer", "coordinator" })]
    [InlineData(new[] { "trainer" }, new[] { "trainer" })]
    [InlineData(new[] { "coordinator", "balancer" }, new[] { "coordinator", "balancer" })]
    public void Configured_roles_replace_the_default_roles_rather_than_add_to_them(string[] configured, string[] expected)
    {
        var flags = configured.Select((role, k) => new KeyValuePair<string, string?>($"Node:Roles:{k}", role));

        var node = Configuration.HostConfiguration.Node(Configuration.HostConfiguration.Build(null, flags));

        Assert.Equal(expected, node.Roles);
    }

    [Fact]
    public void An_s3_address_names_the_bucket_and_prefix_and_the_rest_comes_from_configuration()
    {
        var flags = new Configuration.Flags().Blobs("s3://moe/jobs/").Set("Blobs:S3:Endpoint", "http://minio:9000").Set("Blobs:S3:PathStyle", true).Values;

        var blobs = Configuration.HostConfiguration.Node(Configuration.HostConfiguration.Build(null, flags)).Blobs;

        Assert.Equal((Actors.Blobs.BlobStoreKind.S3, "moe", "jobs/", true), (blobs.Kind, blobs.S3.Bucket, blobs.S3.Prefix, blobs.S3.PathStyle));
        Assert.Equal(new Uri("http://minio:9000"), blobs.S3.Endpoint);
        var bucketOnly = Configuration.HostConfiguration.Node(Configuration.HostConfiguration.Build(null, new Configuration.Flags().Blobs("s3://moe").Values)).Blobs;
        Assert.Equal(("moe", "moe-blobs/"), (bucketOnly.S3.Bucket, bucketOnly.S3.Prefix));
    }
}
