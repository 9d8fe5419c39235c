using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Moe.Actors.Hosting;

/// <summary>
/// Optional TLS for Akka remoting and the blob server (section "Node:Tls"). Every node presents the same cluster
/// certificate (a PKCS#12 file, e.g. mounted from a Kubernetes Secret) and accepts only peers that present it too
/// (pinned, mutual for remoting): a private CA or a self-signed certificate works, and host names are not checked
/// (pod IPs).
/// </summary>
public sealed record RemotingTlsSettings
{
    /// <summary>Path of the PKCS#12 (.pfx) file with the certificate and its private key; null: no TLS.</summary>
    public string? CertificatePath { get; init; }

    /// <summary>Its password (from a Secret through MOE_Node__Tls__CertificatePassword); never logged.</summary>
    public string? CertificatePassword { get; init; }

    public bool Enabled => CertificatePath is not null;

    /// <summary>Loads the certificate, or says which file is missing or unreadable.</summary>
    public X509Certificate2 Load()
    {
        if (!File.Exists(CertificatePath))
            throw new ArgumentException($"Node:Tls:CertificatePath \"{CertificatePath}\" does not exist: mount the cluster certificate (PKCS#12) there.");
        try
        {
            var certificate = X509CertificateLoader.LoadPkcs12FromFile(CertificatePath, CertificatePassword);
            return certificate.HasPrivateKey
                ? certificate
                : throw new ArgumentException($"Node:Tls:CertificatePath \"{CertificatePath}\" holds no private key: remoting TLS needs one.");
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"Node:Tls:CertificatePath \"{CertificatePath}\" could not be read as PKCS#12 with the given password: {e.Message}");
        }
    }

    /// <summary>An HTTP handler that trusts exactly the cluster certificate: how nodes reach each other's blob servers.</summary>
    public SocketsHttpHandler PinnedHandler()
    {
        using var certificate = Load();
        var pinned = certificate.GetCertHash(HashAlgorithmName.SHA256);
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) =>
            presented is not null && presented.GetCertHash(HashAlgorithmName.SHA256).AsSpan().SequenceEqual(pinned);
        return handler;
    }
}
