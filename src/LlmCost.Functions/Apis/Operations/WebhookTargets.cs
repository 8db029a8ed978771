using System.Net;
using System.Net.Sockets;

namespace LlmCost.Functions.Apis.Operations;

/// <summary>
/// Keeps alert webhooks (webhook, Slack, Teams) from becoming a way into the service's own network. Unless
/// <c>LlmCost:Alerts:AllowPrivateNetworkTargets</c> is on, a target that is, or resolves to, a loopback, private,
/// link-local (cloud metadata), carrier-grade NAT, multicast or reserved address is refused: when the subscription is
/// created (an IP literal or "localhost"), and again at every connection, after DNS resolution, so a name that later
/// resolves inward (DNS rebinding) is refused too. Redirects are not followed (a webhook answers, it does not send
/// the alert elsewhere), and no proxy is used, so the address checked is the address connected to.
/// </summary>
public static class WebhookTargets
{
    /// <summary>Null when <paramref name="url"/> may be subscribed to; otherwise why not.</summary>
    public static string? Problem(string? url, bool allowPrivate)
    {
        if (allowPrivate || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return null;
        }

        var host = uri.IdnHost.Trim('[', ']');
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            return "must not point at this machine (localhost)";
        }

        return IPAddress.TryParse(host, out var address) && IsInternal(address)
            ? "must not point at a loopback, private, link-local or reserved address"
            : null;
    }

    /// <summary>The primary handler of the alert HTTP client: guarded connects, no redirects, no proxy.</summary>
    public static SocketsHttpHandler CreateHandler(bool allowPrivate) => new()
    {
        AllowAutoRedirect = false,
        UseProxy = false,
        ConnectTimeout = TimeSpan.FromSeconds(10),
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        ConnectCallback = (context, cancellationToken) => ConnectAsync(context, allowPrivate, cancellationToken),
    };

    /// <summary>Loopback, private (RFC 1918, ULA), link-local, CGNAT, unspecified, multicast, reserved or documentation addresses.</summary>
    public static bool IsInternal(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] switch
            {
                0 or 10 or 127 => true,
                100 => b[1] >= 64 && b[1] <= 127,
                169 => b[1] == 254,
                172 => b[1] >= 16 && b[1] <= 31,
                192 => (b[1] == 168) || (b[1] == 0 && b[2] is 0 or 2),
                198 => b[1] is 18 or 19 || (b[1] == 51 && b[2] == 100),
                203 => b[1] == 0 && b[2] == 113,
                >= 224 => true,
                _ => false,
            };
        }

        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.IPv6None) || address.Equals(IPAddress.IPv6Any)
            || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || address.IsIPv6UniqueLocal)
        {
            return true;
        }

        var bytes = address.GetAddressBytes();
        // NAT64 (64:ff9b::/96) carries an IPv4 address: judge that one.
        if (bytes[0] == 0x00 && bytes[1] == 0x64 && bytes[2] == 0xff && bytes[3] == 0x9b && bytes[4..12].All(x => x == 0))
        {
            return IsInternal(new IPAddress(bytes[12..16]));
        }

        return bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0x0d && bytes[3] == 0xb8; // 2001:db8::/32 documentation
    }

    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, bool allowPrivate, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        IPAddress[] addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        if (!allowPrivate && addresses.Any(IsInternal))
        {
            // Refuse the name outright if ANY of its addresses is internal: picking a public one would let the next
            // resolution (or another client library) take the internal one.
            throw new HttpRequestException(
                $"webhook target '{host}' resolves to a loopback, private or link-local address; refused (LlmCost:Alerts:AllowPrivateNetworkTargets is off)");
        }

        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
        }

        throw new HttpRequestException($"could not connect to webhook target '{host}'", last);
    }
}
