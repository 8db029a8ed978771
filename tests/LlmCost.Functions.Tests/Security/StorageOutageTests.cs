using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace LlmCost.Functions.Tests.Security;

/// <summary>
/// Storage that does not answer: a TCP listener that accepts and never replies (frozen), and a port nobody listens on
/// (refused). Every call answers 503 problem details with Retry-After, unauthenticated key lookups included, and
/// /api/health answers 503 naming the problem instead of hanging. Elapsed times are written to the output (no timing
/// assertions: the machine is shared).
/// </summary>
public sealed class StorageOutageTests(ITestOutputHelper output)
{
    private static readonly DateTimeOffset Now = new(2026, 3, 16, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task FrozenStorageIsA503WithRetryAfterEverywhere()
    {
        using var frozen = new FrozenListener();
        await AssertOutageAnswersAsync(frozen.Port, "frozen");
    }

    [Fact]
    public async Task RefusedStorageIsA503WithRetryAfterEverywhere()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await AssertOutageAnswersAsync(port, "refused");
    }

    private async Task AssertOutageAnswersAsync(int port, string kind)
    {
        var endpoint = $"http://127.0.0.1:{port}/devstoreaccount1";
        await using var host = await LlmCostTestHost.StartAsync(o =>
        {
            o.Time = new FakeTimeProvider(Now);
            o.Settings["AzureWebJobsStorage"] = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
                "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
                $"BlobEndpoint={endpoint};QueueEndpoint={endpoint};TableEndpoint={endpoint};";
            o.Settings["LlmCost:Storage:CreateResources"] = "false";
            o.Settings["LlmCost:Storage:ReadTimeout"] = "00:00:01";
            o.Settings["LlmCost:Storage:WriteTimeout"] = "00:00:02";
            o.Settings["LlmCost:Storage:MaxRetries"] = "1";
        });
        using var anonymous = host.CreateClient(null);
        using var storedKey = host.CreateClient("llmc_0011223344556677_some-secret-of-a-stored-key");

        await ExpectAsync(anonymous, HttpMethod.Get, "api/health", null, "health");
        await ExpectAsync(storedKey, HttpMethod.Get, "api/users/alice/usage", null, "stored-key lookup");
        await ExpectAsync(host.Client, HttpMethod.Get, "api/users/alice/usage?tenant_id=acme", null, "usage query");
        await ExpectAsync(host.Client, HttpMethod.Post, "api/usage", new
        {
            tenant_id = "acme", user_id = "alice", model = "gpt-4o", timestamp = "2026-03-16T11:00:00Z", usage = new { input_tokens = 1, output_tokens = 1 },
        }, "record usage");
        await ExpectAsync(host.Client, HttpMethod.Post, "api/budgets/authorize", new
        {
            tenant_id = "acme", user_id = "alice", provider = "openai", model = "gpt-4o", input_tokens = 10, max_tokens = 10,
        }, "authorize");
        await ExpectAsync(host.Client, HttpMethod.Get, "api/alerts?tenant_id=acme", null, "alerts");
        await ExpectAsync(anonymous, HttpMethod.Get, "api/health", null, "health again");
        output.WriteLine($"storage {kind}: every answer was 503 with Retry-After");

        async Task ExpectAsync(HttpClient client, HttpMethod method, string path, object? body, string what)
        {
            var clock = Stopwatch.StartNew();
            using var request = body is null ? new HttpRequestMessage(method, path) : SecurityFixture.Json(method, path, body);
            using var response = await client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            output.WriteLine($"storage {kind}, {what}: {(int)response.StatusCode} after {clock.ElapsedMilliseconds} ms");
            Assert.True((int)response.StatusCode == 503, $"{what}: {(int)response.StatusCode} {text}");
            Assert.True(response.Headers.RetryAfter is not null, $"{what}: no Retry-After");
            using var problem = JsonDocument.Parse(text);
            Assert.Equal(503, problem.RootElement.GetProperty("status").GetInt32());
            if (what.StartsWith("health", StringComparison.Ordinal))
            {
                Assert.Equal("failed", problem.RootElement.GetProperty("checks").GetProperty("storage").GetProperty("status").GetString());
                Assert.NotEmpty(problem.RootElement.GetProperty("problems").EnumerateArray());
            }
        }
    }

    /// <summary>Accepts connections and never answers: storage that hangs.</summary>
    private sealed class FrozenListener : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly List<Socket> _held = [];
        private readonly CancellationTokenSource _stop = new();

        public FrozenListener()
        {
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _ = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    try
                    {
                        var socket = await _listener.AcceptSocketAsync(_stop.Token);
                        lock (_held)
                        {
                            _held.Add(socket);
                        }
                    }
                    catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                    {
                        return;
                    }
                }
            });
        }

        public int Port { get; }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            lock (_held)
            {
                _held.ForEach(s => s.Dispose());
            }

            _stop.Dispose();
        }
    }
}
