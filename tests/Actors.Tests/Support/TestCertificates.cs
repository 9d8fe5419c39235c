using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Moe.Actors.Tests.Support;

internal static class TestCertificates
{
    public const string Password = "secret";

    /// <summary>A self-signed PKCS#12 file, as the Helm chart mounts the cluster certificate from a Secret.</summary>
    public static string Write(string folder, string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var path = Path.Combine(folder, $"{name}.pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pkcs12, Password));
        return path;
    }
}
