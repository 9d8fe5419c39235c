using System.Net;
using System.Net.Sockets;
using Moe.Actors.Hosting;

namespace Moe.Cluster.Host.Hosting;

/// <summary>
/// Every port a node is to bind, tried before the node starts: one taken by another process is named at once
/// rather than failing deep inside remoting or the web host.
/// </summary>
internal static class PortCheck
{
    /// <exception cref="PortInUseException">A configured port is taken.</exception>
    public static void EnsureFree(NodeSettings settings)
    {
        if (settings.Port != 0)
            Try(settings.Hostname, settings.Port, "Node:Port (--port)");
        if (settings.HttpUrl is { } http)
            Try(new Uri(http).Host, new Uri(http).Port, "Node:HttpUrl (--http)");
        if (settings.Blobs.ServeUrl is { } serve)
            Try(new Uri(serve).Host, new Uri(serve).Port, "Blobs:ServeUrl (--serve-blobs)");
    }

    private static void Try(string host, int port, string setting)
    {
        var address = host is "localhost" ? IPAddress.Loopback
            : IPAddress.TryParse(host.Trim('[', ']'), out var parsed) ? parsed
            : IPAddress.Any;
        var listener = new TcpListener(address, port);
        try
        {
            listener.Start();
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new PortInUseException($"Port {port} of {setting} is in use by another process: stop that process or choose another port.");
        }
        finally
        {
            listener.Stop();
        }
    }
}

/// <summary>A port the node needs is taken; the message names the port and the setting.</summary>
internal sealed class PortInUseException(string message) : IOException(message);
