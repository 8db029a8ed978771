using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Azure.Data.Tables;

namespace LlmCost.Cli.Tests;

/// <summary>The load generator against a real HTTP listener on loopback (and, for the baselines, a real Azurite).</summary>
public sealed class LoadCommandTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Directory.CreateTempSubdirectory("llmcost-load-").FullName;

    public LoadCommandTests() =>
        File.WriteAllText(Path.Combine(_directory, "AzureLLMInferenceTrace_code.csv"),
            "TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:17:03.9799600,4808,10\r\n" +
            "2023-11-16 18:17:04.0319600,3180,8\r\n2023-11-16 18:17:04.0781490,110,27");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task PostsExactlyCountEvents_WithTheKeyFromTheEnvironment_AndTimestampsTheServiceAccepts()
    {
        await using var server = FakeService.Start((_, _) => (202, "{}"));
        string variable = $"LLMCOST_TEST_LOAD_KEY_{server.Port}";
        Environment.SetEnvironmentVariable(variable, "test-key-123");
        try
        {
            (int exit, string[] lines, string error) = await RunAsync(
                "--url", server.Url, "--count", "7", "--concurrency", "3", "--trace", "code", "--models", "openai:gpt-4o", "--api-key-env", variable);

            Assert.True(exit == 0, error);
            JsonElement report = JsonDocument.Parse(Assert.Single(lines)).RootElement;
            Assert.Equal(7, report.GetProperty("sent").GetInt64());
            Assert.Equal(7, report.GetProperty("events").GetInt64());
            Assert.Equal(7, report.GetProperty("status").GetProperty("202").GetInt64());
            List<(JsonElement Body, string? Auth)> posts = server.Posts();
            Assert.Equal(7, posts.Count);
            Assert.All(posts, r => Assert.Equal("Bearer test-key-123", r.Auth));
            // 7 events from a 3-row trace: the trace is looped, and every event id is distinct.
            Assert.Equal(7, posts.Select(b => b.Body.GetProperty("event_id").GetString()).Distinct().Count());
            Assert.All(posts, b => Assert.Equal("gpt-4o", b.Body.GetProperty("model").GetString()));
            Assert.Contains(posts, b => b.Body.GetProperty("usage").GetProperty("input_tokens").GetInt64() == 4808);

            // The 2023 trace is moved to end two minutes before now (the service refuses events > 400 days old),
            // keeping its spacing; later passes go one day further back.
            List<DateTimeOffset> times = posts.Select(p => DateTimeOffset.Parse(p.Body.GetProperty("timestamp").GetString()!, CultureInfo.InvariantCulture)).ToList();
            Assert.All(times, t => Assert.InRange(t, Now.AddDays(-3), Now.AddMinutes(-2)));
            Assert.Contains(Now.AddMinutes(-2), times);
            Assert.Contains(Now.AddMinutes(-2) - TimeSpan.FromTicks(981_890) - TimeSpan.FromDays(1), times); // the first row, second pass
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task AWarmupRunsFirstUnderAnotherTenantAndIsNotCounted()
    {
        await using var server = FakeService.Start((_, _) => (200, "{}"));

        (int exit, string[] lines, string error) = await RunAsync("--url", server.Url, "--count", "5", "--warmup", "4", "--batch", "2", "--trace", "code");

        Assert.True(exit == 0, error);
        JsonElement report = JsonDocument.Parse(Assert.Single(lines)).RootElement;
        Assert.Equal(5, report.GetProperty("events").GetInt64());
        Assert.Equal(3, report.GetProperty("status").GetProperty("200").GetInt64());
        Assert.Equal(4, report.GetProperty("warmup").GetInt32());
        List<JsonElement> events = server.Posts().SelectMany(p => p.Body.GetProperty("events").EnumerateArray()).ToList();
        List<JsonElement> warm = events.Where(e => e.GetProperty("tenant_id").GetString() == "load-test-warmup").ToList();
        Assert.Equal(4, warm.Count);
        Assert.All(warm, e => Assert.StartsWith("warmup-", e.GetProperty("event_id").GetString(), StringComparison.Ordinal));
        Assert.Equal(5, events.Count(e => e.GetProperty("tenant_id").GetString() == "load-test"));
    }

    [Fact]
    public async Task BatchesCarryNEventsPerRequest_AndTheDrainTimeComesFromTheServicesHealth()
    {
        int healthCalls = 0;
        await using var server = FakeService.Start((method, path) =>
            path == "/api/health" ? (200, Health(Interlocked.Increment(ref healthCalls) < 3 ? 5 : 0)) : (200, "{}"));

        (int exit, string[] lines, string error) = await RunAsync("--url", server.Url, "--count", "7", "--batch", "3", "--trace", "code");

        Assert.True(exit == 0, error);
        JsonElement report = JsonDocument.Parse(Assert.Single(lines)).RootElement;
        List<(JsonElement Body, string? Auth)> posts = server.Posts();
        Assert.Equal([1, 3, 3], posts.Select(p => p.Body.GetProperty("events").GetArrayLength()).Order());
        Assert.Equal(7, report.GetProperty("events").GetInt64());
        Assert.Equal(3, report.GetProperty("status").GetProperty("200").GetInt64());
        Assert.True(report.GetProperty("projection_drain_seconds").GetDouble() > 0);
        Assert.True(healthCalls >= 3);
    }

    [Fact]
    public async Task StoragePerEventComesFromTheServicesOwnCountersBeforeAndAfter()
    {
        int scrapes = 0;
        await using var server = FakeService.Start((method, path) => path switch
        {
            "/metrics" => (200, Metrics(Interlocked.Increment(ref scrapes) == 1 ? 0 : 1)),
            "/api/health" => (200, Health(0)),
            _ => (200, "{}"),
        });

        (int exit, string[] lines, string error) = await RunAsync("--url", server.Url, "--count", "10", "--trace", "code");

        Assert.True(exit == 0, error);
        JsonElement perEvent = JsonDocument.Parse(Assert.Single(lines)).RootElement.GetProperty("storage_per_event");
        Assert.Equal(3.0, perEvent.GetProperty("requests").GetDouble());
        Assert.Equal(10.0, perEvent.GetProperty("entities").GetDouble());
        Assert.Equal(0.5, perEvent.GetProperty("hot_path_requests").GetDouble());
        Assert.Equal(2.0, perEvent.GetProperty("hot_path_entities").GetDouble());
    }

    /// <summary>The Prometheus text the service's OpenTelemetry exporter writes, for 0 or 1 × (10 events).</summary>
    private static string Metrics(int k) => string.Join("\n",
        "# TYPE llmcost_ingest_events_total counter",
        $"llmcost_ingest_events_total{{otel_scope_name=\"LlmCost\",outcome=\"recorded\"}} {10 * k} 1764500000000",
        $"llmcost_ingest_events_total{{otel_scope_name=\"LlmCost\",outcome=\"duplicate\"}} {4 * k} 1764500000000",
        $"llmcost_ingest_storage_transactions_total{{otel_scope_name=\"LlmCost\",result=\"ok\",stage=\"log\"}} {5 * k} 1764500000000",
        $"llmcost_ingest_storage_transactions_total{{otel_scope_name=\"LlmCost\",result=\"ok\",stage=\"user_day\"}} {25 * k} 1764500000000",
        $"llmcost_ingest_storage_entities_total{{otel_scope_name=\"LlmCost\",stage=\"log\"}} {20 * k} 1764500000000",
        $"llmcost_ingest_storage_entities_total{{otel_scope_name=\"LlmCost\",stage=\"user_day\"}} {80 * k} 1764500000000",
        "# EOF") + "\n";

    [Fact]
    public async Task RefusedEventsAreNeverCountedAsThroughput()
    {
        await using var server = FakeService.Start((_, _) => (400, """{"title":"bad"}"""));

        (int exit, string[] lines, _) = await RunAsync("--url", server.Url, "--count", "5", "--trace", "code");

        Assert.Equal(1, exit);
        JsonElement report = JsonDocument.Parse(Assert.Single(lines)).RootElement;
        Assert.Equal(0, report.GetProperty("events").GetInt64());
        Assert.Equal(0, report.GetProperty("events_per_second").GetDouble());
        Assert.Equal(5, report.GetProperty("status").GetProperty("400").GetInt64());
    }

    [Fact]
    public async Task BaselinesWriteTheSameEventsAsRawInsertsAndTransactions_AndTheRatioComesInTheSameLine()
    {
        string storage = Environment.GetEnvironmentVariable("LLMCOST_TEST_STORAGE") is { Length: > 0 } cs
            ? cs
            : throw new InvalidOperationException("LLMCOST_TEST_STORAGE is not set: run ./test.sh (it starts Azurite)");
        await using var server = FakeService.Start((_, _) => (200, "{}"));
        var before = new HashSet<string>((await TablesAsync(storage)).Where(t => t.StartsWith("loadbaseline", StringComparison.Ordinal)));

        (int exit, string[] lines, string error) = await RunAsync(
            "--url", server.Url, "--count", "250", "--concurrency", "4", "--trace", "code", "--baseline", "raw-insert,raw-batch", "--storage", storage,
            "--baseline-concurrency", "3");

        Assert.True(exit == 0, error);
        JsonElement report = JsonDocument.Parse(Assert.Single(lines)).RootElement;
        JsonElement insert = report.GetProperty("baseline").GetProperty("raw-insert");
        JsonElement batch = report.GetProperty("baseline").GetProperty("raw-batch");
        Assert.Equal(250, insert.GetProperty("events").GetInt64());
        Assert.Equal(4, report.GetProperty("concurrency").GetInt32());
        Assert.Equal(3, insert.GetProperty("concurrency").GetInt32());
        Assert.Equal(3, batch.GetProperty("concurrency").GetInt32());
        Assert.Equal(250, insert.GetProperty("status").GetProperty("204").GetInt64()); // one entity per request
        Assert.Equal(250, batch.GetProperty("events").GetInt64());
        Assert.Equal(3, batch.GetProperty("status").GetProperty("202").GetInt64()); // 100 + 100 + 50 entities
        Assert.Equal("raw-insert", report.GetProperty("ratio_to").GetString());
        double expected = report.GetProperty("events_per_second").GetDouble() / insert.GetProperty("events_per_second").GetDouble();
        Assert.Equal(expected, report.GetProperty("ratio").GetDouble(), 0.01 * expected + 0.001);
        // The baseline tables are removed again.
        Assert.DoesNotContain(await TablesAsync(storage), t => t.StartsWith("loadbaseline", StringComparison.Ordinal) && !before.Contains(t));
    }

    [Theory]
    [InlineData("http://example.com/api/usage")]
    [InlineData("http://10.1.2.3:7071/api/usage")]
    [InlineData("ftp://127.0.0.1/api/usage")]
    public async Task NonLoopbackTargets_AreRefused(string url)
    {
        (int exit, _, string error) = await RunAsync("--url", url, "--count", "1", "--trace", "code");

        Assert.Equal(2, exit);
        Assert.Contains("--url", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABaselineAgainstNonLoopbackStorage_IsRefused()
    {
        (int exit, _, string error) = await RunAsync("--url", "http://127.0.0.1:9/api/usage", "--count", "1", "--trace", "code",
            "--baseline", "raw-insert", "--storage", "DefaultEndpointsProtocol=https;AccountName=someone;AccountKey=AAAA;EndpointSuffix=core.windows.net");

        Assert.Equal(2, exit);
        Assert.Contains("--storage", error, StringComparison.Ordinal);
    }

    private static string Health(int pending) => "{\"status\":\"healthy\",\"projection\":{\"pending\":" + pending + "}}";

    private Task<(int Exit, string[] Lines, string Error)> RunAsync(params string[] args) =>
        CliRunner.RunAsync("", CliRunner.Services(new SimpleCalculator(), _directory), ["load", .. args, "--drain-timeout", "20"]);

    private static async Task<List<string>> TablesAsync(string storage)
    {
        var names = new List<string>();
        await foreach (Azure.Data.Tables.Models.TableItem table in new TableServiceClient(storage).QueryAsync())
        {
            names.Add(table.Name);
        }

        return names;
    }

    /// <summary>A tiny HTTP service on a free loopback port that records POST bodies and answers with <c>respond</c>.</summary>
    private sealed class FakeService : IAsyncDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly ConcurrentBag<(string Body, string? Auth)> _posts = [];
        private Task _loop = Task.CompletedTask;

        public int Port { get; private set; }

        public string Url => $"http://127.0.0.1:{Port}/api/usage";

        public static FakeService Start(Func<string, string, (int Status, string Body)> respond)
        {
            var service = new FakeService();
            using (var socket = new TcpListener(IPAddress.Loopback, 0))
            {
                socket.Start();
                service.Port = ((IPEndPoint)socket.LocalEndpoint).Port;
            }

            service._listener.Prefixes.Add($"http://127.0.0.1:{service.Port}/");
            service._listener.Start();
            service._loop = Task.Run(async () =>
            {
                while (!service._stop.IsCancellationRequested)
                {
                    HttpListenerContext context;
                    try
                    {
                        context = await service._listener.GetContextAsync();
                    }
                    catch (Exception) when (service._stop.IsCancellationRequested)
                    {
                        return;
                    }

                    using (var reader = new StreamReader(context.Request.InputStream))
                    {
                        string body = await reader.ReadToEndAsync();
                        if (context.Request.HttpMethod == "POST")
                        {
                            service._posts.Add((body, context.Request.Headers["Authorization"]));
                        }
                    }

                    (int status, string answer) = respond(context.Request.HttpMethod, context.Request.Url!.AbsolutePath);
                    context.Response.StatusCode = status;
                    byte[] bytes = Encoding.UTF8.GetBytes(answer);
                    context.Response.ContentType = "application/json";
                    await context.Response.OutputStream.WriteAsync(bytes);
                    context.Response.Close();
                }
            });
            return service;
        }

        public List<(JsonElement Body, string? Auth)> Posts() =>
            _posts.Select(p => (JsonDocument.Parse(p.Body).RootElement, p.Auth)).ToList();

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            await _loop;
            _listener.Close();
            _stop.Dispose();
        }
    }
}
