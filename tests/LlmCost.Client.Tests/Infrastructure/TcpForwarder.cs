using System.Net;
using System.Net.Sockets;

namespace LlmCost.Client.Tests.Infrastructure;

/// <summary>
/// A loopback TCP forwarder in front of the real service: stopped, connections are refused (the service is down as
/// far as the app can tell); started again on the same port, traffic flows. Lets a test take the service away and
/// bring it back without restarting it.
/// </summary>
public sealed class TcpForwarder : IAsyncDisposable
{
    private readonly IPEndPoint _target;
    private readonly List<TcpClient> _open = [];
    private TcpListener? _listener;
    private CancellationTokenSource? _stop;

    public TcpForwarder(Uri target)
    {
        _target = new IPEndPoint(IPAddress.Loopback, target.Port);
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
    }

    public int Port { get; }

    /// <summary>A pause before each chunk forwarded to the service: a slow network, to make a run last long enough.</summary>
    public TimeSpan Latency { get; set; }

    public Uri Address => new($"http://127.0.0.1:{Port}/");

    public void Start()
    {
        _stop = new CancellationTokenSource();
        _listener = new TcpListener(IPAddress.Loopback, Port);
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start();
        _ = AcceptAsync(_listener, _stop.Token);
    }

    /// <summary>Refuses new connections and cuts the open ones.</summary>
    public void Stop()
    {
        _stop?.Cancel();
        _listener?.Stop();
        lock (_open)
        {
            foreach (TcpClient client in _open)
            {
                client.Dispose();
            }

            _open.Clear();
        }
    }

    private async Task AcceptAsync(TcpListener listener, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            TcpClient downstream;
            try
            {
                downstream = await listener.AcceptTcpClientAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            var upstream = new TcpClient();
            try
            {
                await upstream.ConnectAsync(_target, cancellationToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException)
            {
                downstream.Dispose();
                upstream.Dispose();
                continue;
            }

            lock (_open)
            {
                _open.Add(downstream);
                _open.Add(upstream);
            }

            _ = PumpAsync(downstream, upstream, Latency);
        }
    }

    private static async Task PumpAsync(TcpClient a, TcpClient b, TimeSpan latency)
    {
        try
        {
            NetworkStream sa = a.GetStream();
            NetworkStream sb = b.GetStream();
            await Task.WhenAny(CopyAsync(sa, sb, latency), sb.CopyToAsync(sa));
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or SocketException)
        {
        }
        finally
        {
            a.Dispose();
            b.Dispose();
        }
    }

    private static async Task CopyAsync(Stream from, Stream to, TimeSpan latency)
    {
        byte[] buffer = new byte[16 * 1024];
        int read;
        while ((read = await from.ReadAsync(buffer)) > 0)
        {
            if (latency > TimeSpan.Zero)
            {
                await Task.Delay(latency);
            }

            await to.WriteAsync(buffer.AsMemory(0, read));
        }
    }

    public ValueTask DisposeAsync()
    {
        Stop();
        _stop?.Dispose();
        return ValueTask.CompletedTask;
    }
}
