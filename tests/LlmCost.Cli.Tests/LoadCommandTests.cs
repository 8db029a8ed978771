using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace LlmCost.Cli.Tests;

/// <summary>The load generator against a real HTTP listener on loopback.</summary>
public sealed class LoadCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("llmcost-load-").FullName;

    public LoadCommandTests() =>
        File.WriteAllText(Path.Combine(_directory, "AzureLLMInferenceTrace_code.csv"),
            "TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:17:03.9799600,4808,10\r\n" +
            "2023-11-16 18:17:04.0319600,3180,8\r\n2023-11-16 18:17:04.0781490,110,27");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    [Fact]
    public async Task PostsExactlyCountEvents_WithTheKeyFromTheEnvironment()
    {
        int port = FreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var received = new ConcurrentBag<(string Body, string? Auth)>();
        using var stop = new CancellationTokenSource();
        Task server = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception) when (stop.IsCancellationRequested)
                {
                    return;
                }

                using (var reader = new StreamReader(context.Request.InputStream))
                {
                    received.Add((await reader.ReadToEndAsync(), context.Request.Headers["Authorization"]));
                }

                context.Response.StatusCode = 202;
                context.Response.Close();
            }
        });
        string variable = $"LLMCOST_TEST_LOAD_KEY_{port}";
        Environment.SetEnvironmentVariable(variable, "test-key-123");
        try
        {
            (int exit, string[] lines, string error) = await CliRunner.RunAsync("", CliRunner.Services(new SimpleCalculator(), _directory),
                "load", "--url", $"http://127.0.0.1:{port}/api/usage", "--count", "7", "--concurrency", "3",
                "--trace", "code", "--models", "openai:gpt-4o", "--api-key-env", variable);

            Assert.True(exit == 0, error);
            JsonElement report = JsonDocument.Parse(Assert.Single(lines)).RootElement;
            Assert.Equal(7, report.GetProperty("sent").GetInt64());
            Assert.Equal(7, report.GetProperty("status").GetProperty("202").GetInt64());
            Assert.Equal(7, received.Count);
            Assert.All(received, r => Assert.Equal("Bearer test-key-123", r.Auth));
            // 7 events from a 3-row trace: the trace is looped, and every event id is distinct.
            var bodies = received.Select(r => JsonDocument.Parse(r.Body).RootElement).ToList();
            Assert.Equal(7, bodies.Select(b => b.GetProperty("event_id").GetString()).Distinct().Count());
            Assert.All(bodies, b => Assert.Equal("gpt-4o", b.GetProperty("model").GetString()));
            Assert.Contains(bodies, b => b.GetProperty("usage").GetProperty("input_tokens").GetInt64() == 4808);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
            stop.Cancel();
            listener.Stop();
            await server;
        }
    }

    [Theory]
    [InlineData("http://example.com/api/usage")]
    [InlineData("http://10.1.2.3:7071/api/usage")]
    [InlineData("ftp://127.0.0.1/api/usage")]
    public async Task NonLoopbackTargets_AreRefused(string url)
    {
        (int exit, _, string error) = await CliRunner.RunAsync("", CliRunner.Services(new SimpleCalculator(), _directory),
            "load", "--url", url, "--count", "1", "--trace", "code");

        Assert.Equal(2, exit);
        Assert.Contains("--url", error, StringComparison.Ordinal);
    }
}
