using System.Security.Cryptography;
using Moe.Actors.Blobs;

namespace Moe.Actors.Tests.Blobs;

public sealed class VerifyingStreamTests
{
    private static readonly byte[] Content = RandomNumberGenerator.GetBytes(10_000);

    private static BlobRef BlobOf(byte[] content) => new(Convert.ToHexStringLower(SHA256.HashData(content)), content.Length);

    private static VerifyingStream Over(byte[] bytes) => new(new MemoryStream(bytes), BlobOf(Content), "test");

    [Fact]
    public void The_exact_content_reads_through_and_is_verified_at_its_last_byte()
    {
        using var stream = Over(Content);
        var copy = new byte[Content.Length];

        stream.ReadExactly(copy);

        Assert.True(stream.Verified);
        Assert.Equal(Content, copy);
        Assert.Equal(0, stream.Read(new byte[10]));
    }

    public static TheoryData<string> Damages => ["flipped", "shorter", "longer"];

    [Theory]
    [MemberData(nameof(Damages))]
    public void Damaged_content_fails_the_read_that_would_complete_it(string damage)
    {
        var bytes = damage switch
        {
            "flipped" => [.. Content[..^1], (byte)(Content[^1] ^ 1)],
            "shorter" => Content[..^1],
            _ => [.. Content, 0],
        };
        using var stream = Over(bytes);

        var error = Assert.Throws<BlobCorruptedException>(() => stream.ReadExactly(new byte[Content.Length]));

        Assert.Contains("damaged", error.Message, StringComparison.Ordinal);
        Assert.False(stream.Verified);
    }

    [Fact]
    public async Task Asynchronous_reads_verify_the_same_way()
    {
        await using var good = Over(Content);
        await using var bad = Over([.. Content[..^1], (byte)(Content[^1] ^ 1)]);
        var target = new MemoryStream();

        await good.CopyToAsync(target, TestContext.Current.CancellationToken);

        Assert.True(good.Verified);
        Assert.Equal(Content, target.ToArray());
        await Assert.ThrowsAsync<BlobCorruptedException>(() => bad.CopyToAsync(Stream.Null, TestContext.Current.CancellationToken));
    }
}
