using System.Text.Json;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Recording;

/// <summary>One host in strict mode with small limits, shared by the bad-input cases.</summary>
public sealed class StrictHostFixture : IAsyncLifetime
{
    public static readonly DateTimeOffset Now = new(2025, 3, 15, 12, 0, 0, TimeSpan.Zero);

    public LlmCostTestHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await LlmCostTestHost.StartAsync(o =>
    {
        o.Time = new FakeTimeProvider(Now);
        o.Settings["LlmCost:Usage:StrictMode"] = "true";
        o.Settings["LlmCost:Usage:MaxBodyBytes"] = "65536";
        o.Settings["LlmCost:Usage:MaxEventsPerRequest"] = "5";
    });

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>Every kind of bad input gets a 4xx naming the field, never a 5xx, and never stores a row.</summary>
public sealed class BadInputTests(StrictHostFixture fixture) : IClassFixture<StrictHostFixture>
{
    private const string Good = "\"tenant_id\":\"acme\",\"user_id\":\"alice\",\"model\":\"gpt-4o\",\"timestamp\":\"2025-03-15T11:00:00Z\"";

    private static string Ev(string fields = Good, string usage = "{\"input_tokens\":100,\"output_tokens\":10}") =>
        $"{{{fields},\"usage\":{usage}}}";

    /// <summary>32 tags of 256 control characters: within the submission limits, but ~49,000 characters once stored as JSON.</summary>
    private static readonly string UnstorableTags =
        "{" + string.Join(",", Enumerable.Range(0, 32).Select(i => $"\"k{i}\":\"{string.Concat(Enumerable.Repeat("\\u0001", 256))}\"")) + "}";

    private static string With(string field, string value) => Good.Contains($"\"{field}\"", StringComparison.Ordinal)
        ? System.Text.RegularExpressions.Regex.Replace(Good, $"\"{field}\":\"[^\"]*\"", $"\"{field}\":{value}")
        : $"{Good},\"{field}\":{value}";

    public static TheoryData<string, string, int, string> Cases => new()
    {
        { "malformed JSON", "{\"user_id\":\"alice\",", 400, "body" },
        { "not an object", "[1,2,3]", 400, "body" },
        { "empty body", "", 400, "body" },
        { "count of wrong type", Ev(usage: "{\"input_tokens\":\"ten\"}"), 400, "usage.input_tokens" },
        { "fractional count", Ev(usage: "{\"input_tokens\":1.5}"), 400, "usage.input_tokens" },
        { "negative count", Ev(usage: "{\"input_tokens\":-1}"), 400, "usage.input_tokens" },
        { "overflowing count", Ev(usage: "{\"output_tokens\":99999999999999999999}"), 400, "usage.output_tokens" },
        { "subset larger than total", Ev(usage: "{\"input_tokens\":100,\"cache_read_tokens\":200}"), 400, "usage.cache_read_tokens" },
        { "reasoning above output", Ev(usage: "{\"output_tokens\":10,\"reasoning_tokens\":11}"), 400, "usage.reasoning_tokens" },
        { "slash in user id", Ev(With("user_id", "\"a/b\"")), 400, "user_id" },
        { "hash in tenant id", Ev(With("tenant_id", "\"ac#me\"")), 400, "tenant_id" },
        { "question mark in event id", Ev(With("event_id", "\"x?y\"")), 400, "event_id" },
        { "backslash in team id", Ev(With("team_id", "\"t\\\\1\"")), 400, "team_id" },
        { "control character in user id", Ev(With("user_id", "\"a\\u0001b\"")), 400, "user_id" },
        { "pipe in user id", Ev(With("user_id", "\"a|b\"")), 400, "user_id" },
        { "reserved event id", Ev(With("event_id", "\"~day\"")), 400, "event_id" },
        { "overlong user id", Ev(With("user_id", $"\"{new string('u', 129)}\"")), 400, "user_id" },
        { "user id of wrong type", Ev(With("user_id", "42")), 400, "user_id" },
        { "timestamp far in the future", Ev(With("timestamp", "\"2025-03-15T13:00:00Z\"")), 400, "timestamp" },
        { "timestamp without offset", Ev(With("timestamp", "\"2025-03-15T10:00:00\"")), 400, "timestamp" },
        { "timestamp too old", Ev(With("timestamp", "\"2023-01-01T00:00:00Z\"")), 400, "timestamp" },
        { "unknown field (strict)", Ev(With("colour", "\"red\"")), 400, "colour" },
        { "part of a unit without its whole", Ev(usage: "{\"input_tokens\":100,\"cache_image_read_tokens\":10}"), 400, "usage.cache_image_read_tokens" },
        { "modalities adding up to more than the input", Ev(usage: "{\"input_tokens\":100,\"input_text_tokens\":60,\"input_image_tokens\":50}"), 400, "usage.input_text_tokens" },
        { "fractional audio seconds", Ev(usage: "{\"audio_seconds\":1.5}"), 400, "usage.audio_seconds" },
        { "negative document pages", Ev(usage: "{\"input_document_pages\":-2}"), 400, "usage.input_document_pages" },
        { "reported cost of wrong type", Ev(With("reported_cost_usd", "true")), 400, "reported_cost_usd" },
        { "negative reported cost", Ev(With("reported_cost_usd", "\"-0.5\"")), 400, "reported_cost_usd" },
        { "absurd reported cost", Ev(With("reported_cost_usd", "1e12")), 400, "reported_cost_usd" },
        { "duplicate key in raw usage", $"{{{Good},\"raw_usage\":{{\"prompt_tokens\":5,\"prompt_tokens\":6,\"completion_tokens\":1}}}}", 400, "raw_usage.prompt_tokens" },
        { "raw usage part above its whole", $"{{{Good},\"raw_usage\":{{\"usage\":{{\"prompt_tokens\":5,\"completion_tokens\":1,\"prompt_tokens_details\":{{\"cached_tokens\":6}}}}}}}}", 400, "raw_usage.usage.prompt_tokens_details.cached_tokens" },
        { "unknown usage key (strict)", Ev(usage: "{\"input_tokens\":1,\"cache_reads\":1}"), 400, "usage.cache_reads" },
        { "missing model", Ev(Good.Replace(",\"model\":\"gpt-4o\"", string.Empty, StringComparison.Ordinal)), 400, "model" },
        { "missing user", Ev(Good.Replace(",\"user_id\":\"alice\"", string.Empty, StringComparison.Ordinal)), 400, "user_id" },
        { "missing usage", $"{{{Good}}}", 400, "usage" },
        { "usage and raw_usage", $"{{{Good},\"usage\":{{\"input_tokens\":1}},\"raw_usage\":{{\"prompt_tokens\":1}}}}", 400, "usage" },
        { "negative latency", Ev(With("latency_ms", "-5")), 400, "latency_ms" },
        { "unknown status", Ev(With("status", "\"ok\"")), 400, "status" },
        { "tag of wrong type", Ev(With("tags", "{\"x\":1}")), 400, "tags.x" },
        { "events not an array", "{\"events\":{}}", 400, "events" },
        { "no events", "{\"events\":[]}", 400, "events" },
        { "too many events", $"{{\"events\":[{string.Join(",", Enumerable.Repeat(Ev(), 6))}]}}", 400, "events" },
        { "one bad event in a batch", $"{{\"events\":[{Ev()},{Ev(usage: "{\"input_tokens\":-3}")}]}}", 400, "events[1].usage.input_tokens" },
        { "tags too large to store (control characters escape to 6 each)", Ev(With("tags", UnstorableTags)), 400, "tags" },
        { "one event of a batch with tags too large to store", $"{{\"events\":[{Ev()},{Ev(With("tags", UnstorableTags))}]}}", 400, "events[1].tags" },
        { "payload over the size limit", Ev(With("app", $"\"{new string('a', 70_000)}\"")), 413, "" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BadInputIsA4xxNamingTheFieldAndStoresNothing(string name, string json, int expectedStatus, string field)
    {
        (int status, JsonElement problem) = await fixture.Host.Client.PostRawAsync("api/usage", json);
        Assert.True(expectedStatus == status, $"{name}: expected {expectedStatus}, got {status}: {problem}");
        Assert.Equal(status, problem.GetProperty("status").GetInt32()); // RFC 9457 problem details
        if (field.Length > 0)
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{name}: no error for '{field}' in {problem}");
        }

        Assert.Equal(0, await TableCounts.CountAsync(TestStorage.Table(fixture.Host, "usageevents"), "event", tenantId: "acme"));
    }

    [Fact]
    public async Task StrictModeAcceptsAValidBatch()
    {
        string ev = Ev(Good.Replace("\"acme\"", "\"strictco\"", StringComparison.Ordinal));
        (int status, JsonElement body) = await fixture.Host.Client.PostRawAsync("api/usage", $"{{\"events\":[{ev}]}}");
        Assert.Equal(200, status);
        Assert.Equal(1, body.GetProperty("recorded").GetInt32());
    }

    [Fact]
    public async Task TagsAtTheSubmissionLimitsInAnyScriptAreStoredWhole()
    {
        // 32 tags of 64 + 256 Japanese characters: the most the limits allow, stored and read back unchanged.
        var random = new Random(12);
        string Text(int n) => new(Enumerable.Range(0, n).Select(_ => (char)random.Next(0x4E00, 0x9FA0)).ToArray());
        Dictionary<string, string> tags = Enumerable.Range(0, 32).ToDictionary(_ => Text(64), _ => Text(256));
        string json = Ev(Good.Replace("\"acme\"", "\"tagsco\"", StringComparison.Ordinal)
            .Replace("\"alice\"", "\"tagger\"", StringComparison.Ordinal) + ",\"event_id\":\"tags-1\",\"tags\":" + JsonSerializer.Serialize(tags));
        (int status, JsonElement body) = await fixture.Host.Client.PostRawAsync("api/usage", json);
        Assert.True(status == 200, body.ToString());

        (int read, JsonElement events) = await fixture.Host.Client.GetJsonAsync("api/users/tagger/events?tenant_id=tagsco&from=2025-03-15&to=2025-03-16");
        Assert.Equal(200, read);
        JsonElement stored = Assert.Single(events.GetProperty("events").EnumerateArray().ToList());
        Assert.Equal(tags.OrderBy(t => t.Key, StringComparer.Ordinal), stored.GetProperty("tags").EnumerateObject()
            .Select(p => new KeyValuePair<string, string>(p.Name, p.Value.GetString()!)).OrderBy(t => t.Key, StringComparer.Ordinal));
    }

    [Fact]
    public async Task ADeclaredOversizedBodyIs413BeforeReading()
    {
        using var content = new ByteArrayContent(new byte[70_000]);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using HttpResponseMessage response = await fixture.Host.Client.PostAsync(new Uri("api/usage", UriKind.Relative), content);
        Assert.Equal(413, (int)response.StatusCode);
    }

    [Theory]
    [InlineData("api/users/alice/usage?tenant_id=acme&granularity=week", "granularity")]
    [InlineData("api/users/alice/usage?tenant_id=acme&group_by=colour", "group_by")]
    [InlineData("api/users/alice/usage?tenant_id=acme&from=yesterday", "from")]
    [InlineData("api/users/alice/usage?tenant_id=acme&from=2025-03-10&to=2025-03-01", "from")]
    [InlineData("api/users/alice/usage?tenant_id=acme&from=2020-01-01&to=2025-03-01", "to")]
    [InlineData("api/users/alice/usage?tenant_id=ac%23me", "tenant_id")]
    [InlineData("api/users/a%7Cb/usage?tenant_id=acme", "userId")]
    [InlineData("api/users/alice/events?tenant_id=acme&page_size=0", "page_size")]
    [InlineData("api/users/alice/events?tenant_id=acme&continuation_token=garbage", "continuation_token")]
    public async Task BadQueriesAre400NamingTheParameter(string path, string field)
    {
        (int status, JsonElement problem) = await fixture.Host.Client.GetJsonAsync(path);
        Assert.Equal(400, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }
}
