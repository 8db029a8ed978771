using System.Net.Sockets;
using System.Text;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Security;

/// <summary>A client that goes away is not an error of the service: nothing is logged as an unhandled exception.</summary>
public sealed class ClientAbortTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 16, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task ClientsThatDisconnectMidRequestAreNotLoggedAsErrors()
    {
        var sink = new CapturingLoggerProvider();
        await using var host = await LlmCostTestHost.StartAsync(o =>
        {
            o.Time = new FakeTimeProvider(Now);
            o.Settings["Logging:LogLevel:Default"] = "Information";
            o.Settings["Logging:LogLevel:Microsoft.AspNetCore"] = "Information";
            o.ConfigureServices = services => services.AddSingleton<ILoggerProvider>(sink);
        });

        // 1. A body that never arrives: the client announces 100 kB, sends a few bytes and closes the connection.
        for (var i = 0; i < 5; i++)
        {
            using var socket = new TcpClient();
            await socket.ConnectAsync(host.BaseAddress.Host, host.BaseAddress.Port);
            var stream = socket.GetStream();
            var head = $"POST /api/usage HTTP/1.1\r\nHost: {host.BaseAddress.Authority}\r\nAuthorization: Bearer {LlmCostTestHost.AdminKey}\r\n" +
                "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"events\":[";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
            await stream.FlushAsync();
            await Task.Delay(50);
            socket.Client.LingerState = new LingerOption(true, 0); // reset, like a client that crashed
            socket.Close();
        }

        // 2. Callers that give up while the service is working for them (storage reads and writes in flight).
        for (var i = 0; i < 10; i++)
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(5 + (i * 7)));
            try
            {
                using var response = await host.Client.PostAsync(new Uri("api/reports", UriKind.Relative),
                    new StringContent("{\"tenant_id\":\"acme\",\"period\":\"month\",\"date\":\"2026-03-01\"}", Encoding.UTF8, "application/json"), cancel.Token);
            }
            catch (OperationCanceledException)
            {
                // expected: the client gave up
            }
        }

        // Let the server finish what the abandoned requests left running, then look at what it logged.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(200, (await host.Client.GetJsonAsync("api/health")).Status);
        var errors = sink.Entries.Where(e => e.Level >= LogLevel.Error || e.Text.Contains("unhandled exception", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.True(errors.Count == 0, string.Join('\n', errors.Take(5).Select(e => $"[{e.Level} {e.Category}] {e.Text[..Math.Min(e.Text.Length, 500)]}")));
    }
}
