using Amazon.Runtime;
using Moe.Actors.Blobs;

namespace Moe.Actors.Tests.Support;

/// <summary>
/// The S3-compatible server the tests use: MOE_TEST_S3 holds its address (.ci/s3 starts s3rver on loopback with the
/// bucket and sets it). Without it, S3 tests are skipped with a message saying how to run them.
/// </summary>
internal static class TestObjectStore
{
    public const string Variable = "MOE_TEST_S3";

    public const string Bucket = "moe-test";

    public const string Region = "us-east-1";

    /// <summary>s3rver's fixed keys; explicit, so that the SDK never looks for credentials elsewhere.</summary>
    public static readonly AWSCredentials Credentials = new BasicAWSCredentials("S3RVER", "S3RVER");

    public static Uri Endpoint()
    {
        var address = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(address))
            Assert.Skip($"{Variable} is not set; .ci/run starts an S3-compatible server and sets it.");
        return new Uri(address);
    }

    /// <summary>The options s3rver needs: path-style addresses, no aws-chunked bodies, checksums only where required.</summary>
    public static S3BlobSettings Compatible(Uri endpoint) => new()
    {
        Bucket = Bucket,
        Endpoint = endpoint,
        Region = Region,
        PathStyle = true,
        ChunkedUploads = false,
        ChecksumsWhenRequired = true,
    };
}
