using System.Text.Json;
using Azure.Data.Tables;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Recording;

/// <summary>
/// Recording and querying through real HTTP against real Azurite. Expected costs are computed by hand from the
/// published list prices (genai-prices catalog, USD per million tokens: gpt-4o input 2.50, cached input 1.25, output 10.00;
/// gpt-4o-mini input 0.15, cached 0.075, output 0.60).
/// </summary>
public sealed class UsageRecordingTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2025, 3, 15, 12, 0, 0, TimeSpan.Zero);
    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LlmCostTestHost.StartAsync(o => o.Time = new FakeTimeProvider(Now));

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static object Event(string id, string user, string? team, string model, string timestamp, long input, long output, long cacheRead = 0, string provider = "openai") => new
    {
        event_id = id, tenant_id = "acme", user_id = user, team_id = team, provider, model, timestamp,
        usage = new { input_tokens = input, output_tokens = output, cache_read_tokens = cacheRead },
    };

    private static readonly object[] Batch =
    [
        Event("A1", "alice", "red", "gpt-4o", "2025-03-10T09:15:00Z", 1000, 500),            // 0.0025 + 0.005 = 0.0075
        Event("A2", "alice", "red", "gpt-4o-mini", "2025-03-10T09:45:00Z", 2000, 1000),      // 0.0003 + 0.0006 = 0.0009
        Event("A3", "alice", "red", "gpt-4o", "2025-03-10T14:00:00Z", 4000, 100, 2000),      // 0.005 + 0.0025 + 0.001 = 0.0085
        Event("A4", "alice", "red", "gpt-4o", "2025-03-11T00:30:00Z", 100, 10),              // 0.00025 + 0.0001 = 0.00035
        Event("A5", "alice", "red", "gpt-4o-mini", "2025-02-27T23:59:00Z", 1_000_000, 0),    // 0.15
        Event("A6", "alice", "red", "mystery-model", "2025-03-10T10:00:00Z", 50, 5, provider: "acme-llm"), // unpriced
        Event("B1", "bob", "red", "gpt-4o", "2025-03-10T09:20:00Z", 1000, 1000),             // 0.0025 + 0.01 = 0.0125
        Event("C1", "carol", "blue", "gpt-4o-mini", "2025-03-10T11:00:00+01:00", 10_000, 10_000), // 10:00Z; 0.0015 + 0.006 = 0.0075
    ];

    private async Task RecordBatchAsync()
    {
        (int status, JsonElement body) = await _host.Client.PostAsync("api/usage", new { events = Batch });
        Assert.Equal(200, status);
        Assert.Equal(8, body.GetProperty("recorded").GetInt32());
    }

    [Fact]
    public async Task OneEventIsPricedRecordedAndReported()
    {
        (int status, JsonElement body) = await _host.Client.PostAsync("api/usage", Event("solo", "zoe", null, "gpt-4o", "2025-03-15T11:00:00Z", 1000, 500));
        Assert.Equal(200, status);
        Assert.Equal("solo", body.GetProperty("event_id").GetString());
        Assert.False(body.GetProperty("duplicate").GetBoolean());
        Assert.False(body.GetProperty("event_id_generated").GetBoolean());
        Assert.True(body.GetProperty("priced").GetBoolean());
        Assert.Equal(0.0075m, body.Money("cost_usd"));

        TableEntity stored = (await TestStorage.Table(_host, "usageevents").GetEntityAsync<TableEntity>("acme|zoe|20250315", "solo")).Value;
        Assert.Equal("0.0075", stored.GetString("CostUsd"));
        Assert.Equal(1000, stored.GetInt64("InputTokens"));
    }

    [Fact]
    public async Task ARetriedEventIsRecordedOnceAndTheRetrySaysDuplicate()
    {
        object e = Event("dup-1", "yves", null, "gpt-4o", "2025-03-15T10:00:00Z", 1000, 500);
        (_, JsonElement first) = await _host.Client.PostAsync("api/usage", e);
        (int status, JsonElement second) = await _host.Client.PostAsync("api/usage", e);
        Assert.Equal(200, status);
        Assert.False(first.GetProperty("duplicate").GetBoolean());
        Assert.True(second.GetProperty("duplicate").GetBoolean());
        Assert.Equal(0.0075m, second.Money("cost_usd")); // the stored event's cost

        (_, JsonElement usage) = await _host.Client.GetJsonAsync("api/users/yves/usage?tenant_id=acme&from=2025-03-15&to=2025-03-16");
        Assert.Equal(1, usage.GetProperty("total").GetProperty("events").GetInt64());
        Assert.Equal(0.0075m, usage.GetProperty("total").Money("cost_usd"));
    }

    [Fact]
    public async Task AnEventWithoutIdGetsOneAndTheResponseSaysSo()
    {
        (int status, JsonElement body) = await _host.Client.PostAsync("api/usage", new
        {
            tenant_id = "acme", user_id = "xena", model = "gpt-4o", usage = new { input_tokens = 10, output_tokens = 1 },
        });
        Assert.Equal(200, status);
        Assert.True(body.GetProperty("event_id_generated").GetBoolean());
        string id = body.GetProperty("event_id").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(id));
        // No timestamp: the event happened "now" (the fake clock), so it lands in that day's partition.
        Assert.True((await TestStorage.Table(_host, "usageevents").GetEntityIfExistsAsync<TableEntity>("acme|xena|20250315", id)).HasValue);
    }

    [Fact]
    public async Task ABatchSpanningPartitionsIsRecordedOncePerEventAndARepeatIsAllDuplicates()
    {
        await RecordBatchAsync();
        (int status, JsonElement again) = await _host.Client.PostAsync("api/usage", new { events = Batch });
        Assert.Equal(200, status);
        Assert.Equal(0, again.GetProperty("recorded").GetInt32());
        Assert.Equal(8, again.GetProperty("duplicates").GetInt32());
        Assert.All(again.GetProperty("results").EnumerateArray(), r => Assert.True(r.GetProperty("duplicate").GetBoolean()));

        TableClient events = TestStorage.Table(_host, "usageevents");
        Assert.Equal(8, await TableCounts.CountAsync(events, "event"));
        // Five partitions: alice on three days, bob and carol on one.
        Assert.Equal(5, await TableCounts.CountAsync(events, "day"));
        TableEntity aliceDay = (await events.GetEntityAsync<TableEntity>("acme|alice|20250310", "~day")).Value;
        Assert.Equal(4, aliceDay.GetInt64("Events"));
        Assert.Equal(0.0169m, decimal.Parse(aliceDay.GetString("CostUsd"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(1, aliceDay.GetInt64("UnpricedEvents"));
    }

    [Fact]
    public async Task TheSameIdTwiceInOneBatchIsRecordedOnce()
    {
        object e = Event("twice", "wanda", null, "gpt-4o", "2025-03-15T09:00:00Z", 1000, 500);
        (int status, JsonElement body) = await _host.Client.PostAsync("api/usage", new { events = new[] { e, e } });
        Assert.Equal(200, status);
        Assert.Equal(1, body.GetProperty("recorded").GetInt32());
        Assert.Equal(1, body.GetProperty("duplicates").GetInt32());
        TableEntity day = (await TestStorage.Table(_host, "usageevents").GetEntityAsync<TableEntity>("acme|wanda|20250315", "~day")).Value;
        Assert.Equal(1, day.GetInt64("Events"));
    }

    [Fact]
    public async Task AnUnknownModelIsRecordedUnpricedAndVisible()
    {
        (int status, JsonElement body) = await _host.Client.PostAsync("api/usage", Event("u1", "umberto", null, "no-such-model", "2025-03-15T09:00:00Z", 10, 10));
        Assert.Equal(200, status);
        Assert.False(body.GetProperty("priced").GetBoolean());
        Assert.Contains("no-such-model", body.GetProperty("unpriced_reason").GetString(), StringComparison.Ordinal);

        (_, JsonElement usage) = await _host.Client.GetJsonAsync("api/users/umberto/usage?tenant_id=acme&from=2025-03-15&to=2025-03-16");
        Assert.Equal(1, usage.GetProperty("total").GetProperty("unpriced_events").GetInt64());
        Assert.Equal(1, usage.GetProperty("total").GetProperty("events").GetInt64());
    }

    [Fact]
    public async Task UserUsageByHour()
    {
        await RecordBatchAsync();
        (int status, JsonElement body) = await _host.Client.GetJsonAsync("api/users/alice/usage?tenant_id=acme&from=2025-03-10&to=2025-03-11&granularity=hour");
        Assert.Equal(200, status);
        JsonElement total = body.GetProperty("total");
        Assert.Equal(0.0169m, total.Money("cost_usd"));
        Assert.Equal(4, total.GetProperty("events").GetInt64());
        Assert.Equal(7050, total.GetProperty("input_tokens").GetInt64());
        Assert.Equal(1605, total.GetProperty("output_tokens").GetInt64());
        Assert.Equal(1, total.GetProperty("unpriced_events").GetInt64());

        var series = body.GetProperty("series").EnumerateArray()
            .Select(p => (p.GetProperty("period_start").GetDateTimeOffset(), p.Money("cost_usd"), p.GetProperty("events").GetInt64()))
            .ToList();
        Assert.Equal(
        [
            (new DateTimeOffset(2025, 3, 10, 9, 0, 0, TimeSpan.Zero), 0.0084m, 2L),
            (new DateTimeOffset(2025, 3, 10, 10, 0, 0, TimeSpan.Zero), 0m, 1L),
            (new DateTimeOffset(2025, 3, 10, 14, 0, 0, TimeSpan.Zero), 0.0085m, 1L),
        ], series);
    }

    [Fact]
    public async Task UserUsageByMonth()
    {
        await RecordBatchAsync();
        (_, JsonElement body) = await _host.Client.GetJsonAsync("api/users/alice/usage?tenant_id=acme&from=2025-02-01&to=2025-04-01&granularity=month");
        Assert.Equal(0.16725m, body.GetProperty("total").Money("cost_usd"));
        Assert.Equal(6, body.GetProperty("total").GetProperty("events").GetInt64());
        var series = body.GetProperty("series").EnumerateArray()
            .Select(p => (p.GetProperty("period_start").GetDateTimeOffset(), p.Money("cost_usd"))).ToList();
        Assert.Equal(
        [
            (new DateTimeOffset(2025, 2, 1, 0, 0, 0, TimeSpan.Zero), 0.15m),
            (new DateTimeOffset(2025, 3, 1, 0, 0, 0, TimeSpan.Zero), 0.01725m),
        ], series);
    }

    [Fact]
    public async Task UserUsageByDayAndModel()
    {
        await RecordBatchAsync();
        (_, JsonElement body) = await _host.Client.GetJsonAsync("api/users/alice/usage?tenant_id=acme&from=2025-03-10&to=2025-03-12&granularity=day&group_by=model");
        var series = body.GetProperty("series").EnumerateArray()
            .Select(p => (p.GetProperty("period_start").GetDateTimeOffset().Day, p.GetProperty("provider").GetString(), p.GetProperty("model").GetString(), p.Money("cost_usd"), p.GetProperty("events").GetInt64()))
            .ToList();
        Assert.Equal(
        [
            (10, "acme-llm", "mystery-model", 0m, 1L),
            (10, "openai", "gpt-4o", 0.016m, 2L),
            (10, "openai", "gpt-4o-mini", 0.0009m, 1L),
            (11, "openai", "gpt-4o", 0.00035m, 1L),
        ], series);
    }

    [Fact]
    public async Task UserUsageByProvider()
    {
        await RecordBatchAsync();
        (_, JsonElement body) = await _host.Client.GetJsonAsync("api/users/alice/usage?tenant_id=acme&from=2025-03-10&to=2025-03-11&group_by=provider");
        var series = body.GetProperty("series").EnumerateArray()
            .Select(p => (p.GetProperty("provider").GetString(), p.Money("cost_usd"), p.GetProperty("unpriced_events").GetInt64())).ToList();
        Assert.Equal([("acme-llm", 0m, 1L), ("openai", 0.0169m, 0L)], series);
    }

    [Fact]
    public async Task TeamAndTenantUsageSumTheirUsers()
    {
        await RecordBatchAsync();
        (_, JsonElement red) = await _host.Client.GetJsonAsync("api/teams/red/usage?tenant_id=acme&from=2025-03-10&to=2025-03-11");
        Assert.Equal(0.0294m, red.GetProperty("total").Money("cost_usd")); // alice 0.0169 + bob 0.0125
        Assert.Equal(5, red.GetProperty("total").GetProperty("events").GetInt64());

        (_, JsonElement blue) = await _host.Client.GetJsonAsync("api/teams/blue/usage?tenant_id=acme&from=2025-03-10&to=2025-03-11&granularity=hour");
        Assert.Equal(0.0075m, blue.GetProperty("total").Money("cost_usd"));
        Assert.Equal(new DateTimeOffset(2025, 3, 10, 10, 0, 0, TimeSpan.Zero), blue.GetProperty("series")[0].GetProperty("period_start").GetDateTimeOffset());

        (_, JsonElement tenant) = await _host.Client.GetJsonAsync("api/tenants/acme/usage?from=2025-02-01&to=2025-04-01&granularity=month&group_by=model");
        // March: alice 0.01725 + bob 0.0125 + carol 0.0075 = 0.03725; February: alice 0.15.
        Assert.Equal(0.18725m, tenant.GetProperty("total").Money("cost_usd"));
        Assert.Equal(8, tenant.GetProperty("total").GetProperty("events").GetInt64());
        var marchMini = tenant.GetProperty("series").EnumerateArray().Single(p =>
            p.GetProperty("period_start").GetDateTimeOffset().Month == 3 && p.GetProperty("model").GetString() == "gpt-4o-mini");
        Assert.Equal(0.0084m, marchMini.Money("cost_usd")); // alice 0.0009 + carol 0.0075
    }

    [Fact]
    public async Task EventsArePagedWithContinuationTokens()
    {
        object[] events = Enumerable.Range(1, 5)
            .Select(i => Event($"p{i}", "paula", null, "gpt-4o", $"2025-03-1{i % 2 + 3}T0{i}:00:00Z", 1000 * i, 0)).ToArray();
        await _host.Client.PostAsync("api/usage", new { events });

        var seen = new List<string>();
        string? token = null;
        int pages = 0;
        do
        {
            string path = "api/users/paula/events?tenant_id=acme&from=2025-03-13&to=2025-03-15&page_size=2"
                + (token is null ? string.Empty : "&continuation_token=" + Uri.EscapeDataString(token));
            (int status, JsonElement page) = await _host.Client.GetJsonAsync(path);
            Assert.Equal(200, status);
            Assert.True(page.GetProperty("events").GetArrayLength() <= 2);
            seen.AddRange(page.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("event_id").GetString()!));
            token = page.GetProperty("continuation_token").GetString();
            pages++;
        }
        while (token is not null && pages < 10);

        Assert.Equal(["p1", "p2", "p3", "p4", "p5"], seen.Order().ToArray());
        Assert.InRange(pages, 3, 4);
    }

    [Fact]
    public async Task PriceAnswersWithoutRecording()
    {
        (int status, JsonElement quote) = await _host.Client.PostAsync("api/price", new
        {
            model = "gpt-4o", usage = new { input_tokens = 1_000_000, output_tokens = 1_000_000 },
        });
        Assert.Equal(200, status);
        Assert.Equal(12.5m, quote.Money("cost_usd"));
        Assert.Equal(0, await TableCounts.CountAsync(TestStorage.Table(_host, "usageevents"), "event"));
    }

    [Fact]
    public async Task HealthChecksStorageAndRootAnswers()
    {
        using HttpClient anonymous = _host.CreateClient(null);
        (int status, JsonElement health) = await anonymous.GetJsonAsync("api/health");
        Assert.Equal(200, status);
        Assert.Equal("healthy", health.GetProperty("status").GetString());
        Assert.Equal("ok", health.GetProperty("checks").GetProperty("storage").GetProperty("status").GetString());
        (int openApi, JsonElement document) = await anonymous.GetJsonAsync("openapi/v1.json");
        Assert.Equal(200, openApi);
        Assert.True(document.GetProperty("paths").TryGetProperty("/api/usage", out _));
    }
}
