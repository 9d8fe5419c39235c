using System.Text.Json;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Moe.Testing;
using static Moe.Cluster.Host.Tests.Support.CommandLine;

namespace Moe.Cluster.Host.Tests;

/// <summary>`train` with its blobs in an S3-compatible server (MOE_TEST_S3, which .ci/s3 starts), none on local disk.</summary>
[Trait("Category", "Integration")]
public sealed class ObjectStoreTrainingTests
{
    private const string Bucket = "moe-test";

    [Theory]
    [InlineData(0)] // the coordinator's central step
    [InlineData(2)] // two slice owners, on the one node
    public async Task A_job_keeps_every_parameter_and_delta_in_the_bucket_and_resumes_from_it(int slices)
    {
        var endpoint = Environment.GetEnvironmentVariable("MOE_TEST_S3");
        if (string.IsNullOrWhiteSpace(endpoint))
            Assert.Skip("MOE_TEST_S3 is not set; .ci/run starts an S3-compatible server and sets it.");
        using var temp = new TempDirectory();
        var data = Path.Combine(temp.Path, "data");
        var prefix = $"train-{Guid.NewGuid():N}/";
        var settings = Path.Combine(temp.Path, "appsettings.json");
        await File.WriteAllTextAsync(settings, JsonSerializer.Serialize(new
        {
            Blobs = new
            {
                Kind = "S3",
                LocalHandoff = false, // deltas through the bucket too
                S3 = new { Bucket, Prefix = prefix, Endpoint = endpoint, Region = "us-east-1", PathStyle = true, ChunkedUploads = false, ChecksumsWhenRequired = true },
            },
        }), TestContext.Current.CancellationToken);
        // The SDK's standard chain reads these; s3rver's fixed keys.
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", "S3RVER");
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", "S3RVER");
        string[] args = ["train", "--config", settings, "--preset", "tiny", "--rounds", "2", "--inner-steps", "1",
            "--trainers", "2", "--slices", $"{slices}", "--text", SampleText.Write(temp.Path, sentences: 3000, seed: 3), "--data-dir", data];

        var first = await Run(args);
        var second = await Run(args);

        Assert.True(first.Code == 0, first.Error);
        Assert.Contains("finished: 2 rounds", first.Output, StringComparison.Ordinal);
        var model = first.Output.Split('\n').Single(l => l.StartsWith("Model folder: ", StringComparison.Ordinal))["Model folder: ".Length..].Trim();
        Assert.True(File.Exists(Path.Combine(model, "model.safetensors")), model); // its parameters read back from the bucket
        Assert.True(second.Code == 0, second.Error);
        Assert.Contains("Resuming at round 2 of 2", second.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(data, "blobs")));
        using var client = new AmazonS3Client(new BasicAWSCredentials("S3RVER", "S3RVER"),
            new AmazonS3Config { ServiceURL = endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1" });
        var stored = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = Bucket, Prefix = prefix }, TestContext.Current.CancellationToken);
        // With slices, a kept checkpoint alone is an index and two slices, besides the vocabulary.
        Assert.True((stored.S3Objects?.Count ?? 0) >= (slices == 0 ? 2 : 4), $"{stored.S3Objects?.Count} objects");
    }
}
