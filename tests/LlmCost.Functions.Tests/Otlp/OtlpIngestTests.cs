using System.Diagnostics;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CsCheck;
using LlmCost.Functions.Tests.Infrastructure;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Opentelemetry.Proto.Collector.Trace.V1;

namespace LlmCost.Functions.Tests.Otlp;

/// <summary>
/// OpenTelemetry GenAI ingest end to end: the OpenTelemetry .NET SDK's own OTLP exporter (HttpProtobuf) sends GenAI
/// spans to the real app on Kestrel loopback + Azurite; costs are checked against hand-computed list prices
/// (genai-prices, USD per million tokens: gpt-4o 2.50 input, 1.25 cached, 10.00 output; claude-3-5-sonnet 3.00 input,
/// 0.30 cache read, 3.75 cache write, 15.00 output).
/// </summary>
public sealed class OtlpIngestTests : IAsyncLifetime
{
    private const string SourceName = "LlmCost.Tests.GenAi";
    private static readonly ActivitySource Source = new(SourceName);

    private readonly string _tenant = "otel-" + Guid.NewGuid().ToString("N")[..8];
    private LlmCostTestHost _host = null!;
    private string _ingestKey = null!;

    public async Task InitializeAsync()
    {
        _host = await LlmCostTestHost.StartAsync();
        _ingestKey = await _host.CreateKeyAsync("ingest", _tenant);
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task SpansExportedByTheOpenTelemetrySdkAreRecordedWithTheirCostsAndAResentExportCountsOnce()
    {
        string user = "u-" + Guid.NewGuid().ToString("N")[..8];
        var captured = new List<byte[]>();
        using (TracerProvider provider = Provider(_ingestKey, captured))
        {
            Emit("chat gpt-4o", new()
            {
                ["gen_ai.operation.name"] = "chat", ["gen_ai.provider.name"] = "openai", ["gen_ai.request.model"] = "gpt-4o",
                ["gen_ai.response.model"] = "gpt-4o-2024-08-06", ["gen_ai.usage.input_tokens"] = 1000, ["gen_ai.usage.output_tokens"] = 500,
                ["gen_ai.usage.cache_read.input_tokens"] = 400, ["user.id"] = user, ["llmcost.team_id"] = "red",
            });
            Emit("chat claude", new()
            {
                ["gen_ai.operation.name"] = "chat", ["gen_ai.provider.name"] = "anthropic", ["gen_ai.request.model"] = "claude-3-5-sonnet-20241022",
                ["gen_ai.usage.input_tokens"] = 2000L, ["gen_ai.usage.output_tokens"] = 400L, ["gen_ai.usage.cache_read.input_tokens"] = 1200L,
                ["gen_ai.usage.cache_creation.input_tokens"] = 300L, ["gen_ai.response.id"] = "msg_" + Guid.NewGuid().ToString("N"), ["user.id"] = user,
            });
            // Older attribute names (gen_ai.system, prompt/completion tokens) and the well-known provider names.
            Emit("chat azure", new()
            {
                ["gen_ai.system"] = "azure.ai.openai", ["gen_ai.request.model"] = "gpt-4o-mini", ["gen_ai.usage.prompt_tokens"] = 100,
                ["gen_ai.usage.completion_tokens"] = 10, ["enduser.id"] = user,
            });
            Emit("chat bedrock", new()
            {
                ["gen_ai.provider.name"] = "aws.bedrock", ["gen_ai.request.model"] = "anthropic.claude-3-haiku-20240307-v1:0",
                ["gen_ai.usage.input_tokens"] = 100, ["gen_ai.usage.output_tokens"] = 10, ["user.id"] = user,
            });
            // Not recorded: an HTTP span of the same app, and an agent span whose usage is the sum of the calls above.
            Emit("GET /weather", new() { ["http.request.method"] = "GET", ["user.id"] = user });
            Emit("invoke_agent planner", new()
            {
                ["gen_ai.operation.name"] = "invoke_agent", ["gen_ai.request.model"] = "gpt-4o", ["gen_ai.usage.input_tokens"] = 3000,
                ["gen_ai.usage.output_tokens"] = 900, ["user.id"] = user,
            });
            Assert.True(provider.ForceFlush(30_000), "the SDK's exporter did not get a success answer");
        }

        Assert.True(captured.Count > 0, $"nothing captured; events: {(await EventsAsync(user)).Length}");
        const decimal gpt4o = 0.0015m + 0.0005m + 0.005m;               // 600 uncached + 400 cached input, 500 output
        const decimal claude = 0.0015m + 0.00036m + 0.001125m + 0.006m; // 500 uncached + 1200 read + 300 written, 400 output
        JsonElement[] events = await EventsAsync(user);
        Assert.Equal(4, events.Length);
        JsonElement openAi = events.Single(e => e.GetProperty("provider").GetString() == "openai");
        Assert.Equal("gpt-4o-2024-08-06", openAi.GetProperty("model").GetString());
        Assert.Equal(gpt4o, openAi.Money("cost_usd"));
        Assert.Equal("red", openAi.GetProperty("team_id").GetString());
        Assert.Equal("chat-app", openAi.GetProperty("app").GetString());
        Assert.Equal(400, openAi.GetProperty("usage").GetProperty("cache_read_tokens").GetInt64());
        Assert.Equal("otlp", openAi.GetProperty("tags").GetProperty("source").GetString());
        JsonElement anthropic = events.Single(e => e.GetProperty("provider").GetString() == "anthropic");
        Assert.Equal(claude, anthropic.Money("cost_usd"));
        Assert.StartsWith("msg_", anthropic.GetProperty("event_id").GetString());
        Assert.Contains(events, e => e.GetProperty("provider").GetString() == "azure" && e.GetProperty("usage").GetProperty("input_tokens").GetInt64() == 100);
        Assert.Contains(events, e => e.GetProperty("provider").GetString() == "aws");

        decimal total = await UserCostAsync(user);
        Assert.Equal(events.Sum(e => e.Money("cost_usd")), total);

        // The exporter's own bytes, sent again (as an exporter retrying after a lost answer would): nothing counts twice.
        using HttpClient client = _host.CreateClient(_ingestKey);
        foreach (byte[] body in captured)
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
            using HttpResponseMessage response = await client.PostAsync(new Uri("v1/traces", UriKind.Relative), content);
            Assert.Equal(200, (int)response.StatusCode);
            Assert.Equal("application/x-protobuf", response.Content.Headers.ContentType?.MediaType);
            var answer = ExportTraceServiceResponse.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync());
            Assert.Null(answer.PartialSuccess);
        }

        Assert.Equal(4, (await EventsAsync(user)).Length);
        Assert.Equal(total, await UserCostAsync(user));
    }

    [Fact]
    public async Task AGzippedJsonExportIsRecordedOnceAndItsUnmappableSpansAreReportedNotDropped()
    {
        string user = "j-" + Guid.NewGuid().ToString("N")[..8];
        string traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        string json = OtlpJson(traceId, user, [
            Span("1111111111111111", "chat", """{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}}""",
                """{"key":"gen_ai.provider.name","value":{"stringValue":"openai"}}""",
                """{"key":"gen_ai.usage.input_tokens","value":{"intValue":"2000"}}""",
                """{"key":"gen_ai.usage.output_tokens","value":{"intValue":100}}"""),
            Span("2222222222222222", "chat without a model", """{"key":"gen_ai.usage.input_tokens","value":{"intValue":"5"}}"""),
            Span("3333333333333333", "chat with Anthropic's exclusive input",
                """{"key":"gen_ai.request.model","value":{"stringValue":"claude-3-5-sonnet"}}""",
                """{"key":"gen_ai.usage.input_tokens","value":{"intValue":"10"}}""",
                """{"key":"gen_ai.usage.cache_read.input_tokens","value":{"intValue":"500"}}"""),
            Span("4444444444444444", "SELECT", """{"key":"db.system","value":{"stringValue":"postgresql"}}"""),
        ]);

        for (int attempt = 0; attempt < 2; attempt++)
        {
            (int status, JsonElement answer, string? mediaType) = await PostOtlpJsonAsync(_ingestKey, json, gzip: true);
            Assert.Equal(200, status);
            Assert.Equal("application/json", mediaType);
            JsonElement partial = answer.GetProperty("partialSuccess");
            Assert.Equal("2", partial.GetProperty("rejectedSpans").GetString()); // int64 in protobuf JSON is a string
            string message = partial.GetProperty("errorMessage").GetString()!;
            Assert.Contains("2222222222222222", message, StringComparison.Ordinal);
            Assert.Contains("gen_ai.request.model", message, StringComparison.Ordinal);
            Assert.Contains("3333333333333333", message, StringComparison.Ordinal);
            Assert.Contains("cache", message, StringComparison.Ordinal);
        }

        JsonElement[] events = await EventsAsync(user);
        JsonElement recorded = Assert.Single(events);
        Assert.Equal($"{traceId}-1111111111111111", recorded.GetProperty("event_id").GetString());
        Assert.Equal(0.005m + 0.001m, recorded.Money("cost_usd"));
        Assert.Equal(0.006m, await UserCostAsync(user));
    }

    [Fact]
    public async Task KeysAndTenantsAreCheckedLikePostApiUsage()
    {
        string json = OtlpJson(Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()), "k-user", [Span("5555555555555555", "chat",
            """{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}}""", """{"key":"gen_ai.usage.input_tokens","value":{"intValue":"1"}}""")]);
        Assert.Equal(401, (await PostOtlpJsonAsync("not-a-key", json)).Status);
        Assert.Equal(401, (await PostOtlpJsonAsync(null, json)).Status);
        Assert.Equal(403, (await PostOtlpJsonAsync(await _host.CreateKeyAsync("reader", _tenant), json)).Status);

        // A tenant key naming another tenant is refused as a whole; naming its own is fine.
        string foreign = json.Replace("\"k-user\"}}", "\"k-user\"}},{\"key\":\"llmcost.tenant_id\",\"value\":{\"stringValue\":\"someone-else\"}}", StringComparison.Ordinal);
        Assert.NotEqual(json, foreign);
        Assert.Equal(403, (await PostOtlpJsonAsync(_ingestKey, foreign)).Status);

        // An admin key serves every tenant, so a span must name one; it is rejected (and said so) when it does not.
        (int status, JsonElement answer, _) = await PostOtlpJsonAsync(LlmCostTestHost.AdminKey, json);
        Assert.Equal(200, status);
        Assert.Equal("1", answer.GetProperty("partialSuccess").GetProperty("rejectedSpans").GetString());
        Assert.Contains("llmcost.tenant_id", answer.GetProperty("partialSuccess").GetProperty("errorMessage").GetString(), StringComparison.Ordinal);
        string named = foreign.Replace("someone-else", _tenant, StringComparison.Ordinal);
        (status, answer, _) = await PostOtlpJsonAsync(LlmCostTestHost.AdminKey, named);
        Assert.Equal(200, status);
        Assert.False(answer.TryGetProperty("partialSuccess", out _));
        Assert.Single(await EventsAsync("k-user"));
    }

    [Fact]
    public async Task MalformedExportsAre4xxProblemsNamingTheFault()
    {
        using HttpClient client = _host.CreateClient(_ingestKey);
        async Task<(int Status, string Body)> Send(byte[] body, string contentType, string? encoding = null)
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
            if (encoding is not null)
            {
                content.Headers.ContentEncoding.Add(encoding);
            }

            using HttpResponseMessage response = await client.PostAsync(new Uri("v1/traces", UriKind.Relative), content);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        byte[] valid = Encoding.UTF8.GetBytes(OtlpJson("0102030405060708090a0b0c0d0e0f10", "m-user", []));
        (int status, string body) = await Send([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01], "application/x-protobuf");
        Assert.Equal(400, status);
        Assert.Contains("protobuf", body, StringComparison.Ordinal);
        (status, body) = await Send(Encoding.UTF8.GetBytes("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"zz\"}]}]}]}"), "application/json");
        Assert.Equal(400, status);
        Assert.Contains("traceId", body, StringComparison.Ordinal);
        (status, body) = await Send(Encoding.UTF8.GetBytes("{\"resourceSpans\":{}}"), "application/json");
        Assert.Equal(400, status);
        (status, body) = await Send(Encoding.UTF8.GetBytes("{\"a\":1,\"a\":2}"), "application/json");
        Assert.Equal(400, status);
        (status, body) = await Send(valid, "application/json", "gzip");
        Assert.Equal(400, status);
        Assert.Contains("gzip", body, StringComparison.Ordinal);
        (status, body) = await Send(valid, "application/json", "br");
        Assert.Equal(400, status);
        Assert.Contains("Content-Encoding", body, StringComparison.Ordinal);
        (status, _) = await Send(valid, "text/plain");
        Assert.Equal(415, status);
        // A gzip bomb: 64 KiB on the wire, 64 MiB inflated, refused at the limit.
        (status, _) = await Send(Gzip(new byte[64 * 1024 * 1024]), "application/x-protobuf", "gzip");
        Assert.Equal(413, status);
        (status, _) = await Send(valid, "application/json");
        Assert.Equal(200, status);

        // Random and mutated protobuf bodies: a 4xx or a 200, never a 5xx.
        var sample = new List<byte[]>();
        using TracerProvider provider = Provider(_ingestKey, sample);
        Emit("chat", new() { ["gen_ai.request.model"] = "gpt-4o", ["gen_ai.usage.input_tokens"] = 1, ["user.id"] = "fuzz" });
        Assert.True(provider.ForceFlush(30_000));
        byte[] seed = sample[0];
        await Gen.Select(Gen.Int[0, seed.Length - 1], Gen.Byte, Gen.Int[0, 3]).SampleAsync(async c =>
        {
            byte[] mutated = (byte[])seed.Clone();
            switch (c.Item3)
            {
                case 0: mutated[c.Item1] = c.Item2; break;
                case 1: mutated = mutated[..c.Item1]; break;
                case 2: mutated[c.Item1] ^= 0x80; break;
                default: mutated = [.. mutated[..c.Item1], c.Item2, .. mutated[c.Item1..]]; break;
            }

            (int s, string b) = await Send(mutated, "application/x-protobuf");
            Assert.True(s is 200 or 400 or 413, $"{s} for a mutated body: {b}");
        }, iter: Security.FuzzCorpusTests.PerEndpoint / 5, threads: 4);
    }

    private TracerProvider Provider(string key, List<byte[]> captured)
    {
        return Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("chat-app"))
            .AddSource(SourceName)
            .AddOtlpExporter(o =>
            {
                o.Endpoint = new Uri(_host.BaseAddress, "v1/traces");
                o.Protocol = OtlpExportProtocol.HttpProtobuf;
                o.Headers = $"Authorization=Bearer {key}";
                o.ExportProcessorType = ExportProcessorType.Simple;
                o.HttpClientFactory = () => new HttpClient(new CapturingHandler(captured)) { Timeout = TimeSpan.FromSeconds(60) };
            })
            .Build();
    }

    private static void Emit(string name, Dictionary<string, object?> tags)
    {
        using Activity? activity = Source.StartActivity(name, ActivityKind.Client, parentContext: default, tags: tags);
        Assert.NotNull(activity);
    }

    private static string Span(string spanId, string name, params string[] attributes) =>
        $$"""{"spanId":"{{spanId}}","name":"{{name}}","kind":3,"startTimeUnixNano":"{{Nanos(-2)}}","endTimeUnixNano":"{{Nanos(0)}}","attributes":[{{string.Join(",", attributes)}}]}""";

    private static string OtlpJson(string traceId, string user, string[] spans)
    {
        string withTrace = string.Join(",", spans.Select(s => s.Replace("{\"spanId\"", "{\"traceId\":\"" + traceId + "\",\"spanId\"", StringComparison.Ordinal)));
        return "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"json-app\"}},"
            + "{\"key\":\"user.id\",\"value\":{\"stringValue\":\"" + user + "\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"manual\"},\"spans\":["
            + withTrace + "]}]}]}";
    }

    private static string Nanos(int secondsFromNow) =>
        ((DateTimeOffset.UtcNow.AddSeconds(secondsFromNow) - DateTimeOffset.UnixEpoch).Ticks * 100).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private async Task<(int Status, JsonElement Body, string? MediaType)> PostOtlpJsonAsync(string? key, string json, bool gzip = false)
    {
        using HttpClient client = _host.CreateClient(key);
        byte[] bytes = Encoding.UTF8.GetBytes(json);
        using var content = new ByteArrayContent(gzip ? Gzip(bytes) : bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (gzip)
        {
            content.Headers.ContentEncoding.Add("gzip");
        }

        using HttpResponseMessage response = await client.PostAsync(new Uri("v1/traces", UriKind.Relative), content);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone(), response.Content.Headers.ContentType?.MediaType);
    }

    private async Task<JsonElement[]> EventsAsync(string user)
    {
        string day = DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        string next = DateTime.UtcNow.AddDays(2).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        (int status, JsonElement body) = await _host.Client.GetJsonAsync($"api/users/{user}/events?tenant_id={_tenant}&from={DateTime.UtcNow.AddDays(-1):yyyy-MM-dd}&to={next}");
        Assert.True(status == 200, $"{status} {body} ({day})");
        return [.. body.GetProperty("events").EnumerateArray()];
    }

    private async Task<decimal> UserCostAsync(string user)
    {
        (int status, JsonElement body) = await _host.Client.GetJsonAsync(
            $"api/users/{user}/usage?tenant_id={_tenant}&from={DateTime.UtcNow.AddDays(-1):yyyy-MM-dd}&to={DateTime.UtcNow.AddDays(2):yyyy-MM-dd}");
        Assert.Equal(200, status);
        return body.GetProperty("total").Money("cost_usd");
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    /// <summary>Keeps a copy of every body the SDK's exporter sends, to send it again (the exporter sends synchronously).</summary>
    private sealed class CapturingHandler(List<byte[]> captured) : DelegatingHandler(new HttpClientHandler())
    {
        protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Capture(request, cancellationToken);
            return base.Send(request, cancellationToken);
        }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Capture(request, cancellationToken);
            return base.SendAsync(request, cancellationToken);
        }

        private void Capture(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Content is null)
            {
                return;
            }

            using var buffer = new MemoryStream();
            request.Content.CopyTo(buffer, null, cancellationToken);
            byte[] body = buffer.ToArray();
            lock (captured)
            {
                captured.Add(body);
            }

            var copy = new ByteArrayContent(body);
            foreach (var header in request.Content.Headers)
            {
                copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            request.Content = copy;
        }
    }
}
