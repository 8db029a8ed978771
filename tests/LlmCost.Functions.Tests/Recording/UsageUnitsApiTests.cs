using System.Text.Json;
using Azure.Data.Tables;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Recording;

/// <summary>
/// Every usage unit and the provider-reported cost through real HTTP and real Azurite: recorded, stored compactly,
/// summed into totals, listed with the events. Costs by hand from the genai-prices list prices (USD per MTok:
/// gemini-2.5-flash-image input 0.30, image output 30; gpt-4o input 2.50, output 10; OpenRouter openai/gpt-4o the same).
/// </summary>
public sealed class UsageUnitsApiTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2025, 3, 15, 12, 0, 0, TimeSpan.Zero);
    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LlmCostTestHost.StartAsync(o => o.Time = new FakeTimeProvider(Now));

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task ImageAudioAndReportedCost_AreRecordedSummedAndListed()
    {
        const string Events = """
            {"events":[
              {"event_id":"img-1","tenant_id":"acme","user_id":"lena","provider":"google","model":"gemini-2.5-flash-image","timestamp":"2025-03-15T11:00:00Z",
               "reported_cost_usd":"0.04",
               "raw_usage":{"candidates":[],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":1290,"totalTokenCount":1302,
                 "promptTokensDetails":[{"modality":"TEXT","tokenCount":12}],"candidatesTokensDetails":[{"modality":"IMAGE","tokenCount":1290}]}}},
              {"event_id":"vis-1","tenant_id":"acme","user_id":"lena","provider":"openai","model":"gpt-4o","timestamp":"2025-03-15T11:10:00Z",
               "reported_cost_usd":0.0035,"usage":{"input_tokens":1000,"input_image_tokens":400,"output_tokens":100}},
              {"event_id":"or-1","tenant_id":"acme","user_id":"lena","provider":"openrouter","model":"openai/gpt-4o","timestamp":"2025-03-15T11:20:00Z",
               "raw_usage":{"id":"gen-1","usage":{"prompt_tokens":1000,"completion_tokens":100,"total_tokens":1100,"cost":0.004,"is_byok":false}}}
            ]}
            """;
        (int status, JsonElement recorded) = await _host.Client.PostRawAsync("api/usage", Events);
        Assert.Equal(200, status);
        Assert.Equal(3, recorded.GetProperty("recorded").GetInt32());
        // 12 x 0.30 + 1,290 image tokens x 30 = 0.0000036 + 0.0387 (the image rate, not the 2.50 text rate).
        Assert.Equal(0.0387036m, recorded.GetProperty("results")[0].Money("cost_usd"));

        // Stored compactly: the historic columns plus one column per other non-zero unit; the reported cost next to ours.
        TableEntity image = (await TestStorage.Table(_host, "usageevents").GetEntityAsync<TableEntity>("acme|lena|20250315", "img-1")).Value;
        Assert.Equal(1290, image.GetInt64("U_output_image_tokens"));
        Assert.Equal(12, image.GetInt64("U_input_text_tokens"));
        Assert.Equal("0.04", image.GetString("ReportedCostUsd"));
        Assert.Null(image.GetInt64("U_input_video_tokens"));

        (_, JsonElement usage) = await _host.Client.GetJsonAsync("api/users/lena/usage?tenant_id=acme&from=2025-03-15&to=2025-03-16");
        JsonElement total = usage.GetProperty("total");
        Assert.Equal(0.0457036m, total.Money("cost_usd"));
        JsonElement units = total.GetProperty("units");
        Assert.Equal(2012, units.GetProperty("input_tokens").GetInt64());
        Assert.Equal(1290, units.GetProperty("output_image_tokens").GetInt64());
        Assert.Equal(400, units.GetProperty("input_image_tokens").GetInt64());
        Assert.Equal(1490, units.GetProperty("output_tokens").GetInt64());
        Assert.False(units.TryGetProperty("requests", out _));
        Assert.Equal(3, total.GetProperty("reported_cost_events").GetInt64());
        Assert.Equal(0.0475m, total.Money("reported_cost_usd"));
        // (0.04 - 0.0387036) + (0.0035 - 0.0035) + (0.004 - 0.0035).
        Assert.Equal(0.0017964m, total.Money("reported_cost_difference_usd"));
        Assert.Equal(1290, usage.GetProperty("series")[0].GetProperty("units").GetProperty("output_image_tokens").GetInt64());

        // The tenant's view (scope rows) carries the same units.
        (_, JsonElement tenant) = await _host.Client.GetJsonAsync("api/tenants/acme/usage?tenant_id=acme&from=2025-03-15&to=2025-03-16");
        Assert.Equal(1290, tenant.GetProperty("total").GetProperty("units").GetProperty("output_image_tokens").GetInt64());

        (_, JsonElement listed) = await _host.Client.GetJsonAsync("api/users/lena/events?tenant_id=acme&from=2025-03-15&to=2025-03-16");
        Dictionary<string, JsonElement> byId = listed.GetProperty("events").EnumerateArray().ToDictionary(e => e.GetProperty("event_id").GetString()!);
        Assert.Equal(1290, byId["img-1"].GetProperty("usage").GetProperty("units").GetProperty("output_image_tokens").GetInt64());
        Assert.Equal(0.0012964m, byId["img-1"].Money("reported_cost_difference_usd"));
        Assert.Equal(0.004m, byId["or-1"].Money("reported_cost_usd")); // picked up from OpenRouter's usage.cost
        Assert.Equal(400, byId["vis-1"].GetProperty("usage").GetProperty("units").GetProperty("input_image_tokens").GetInt64());
        Assert.Equal(0m, byId["vis-1"].Money("reported_cost_difference_usd"));
    }

    [Fact]
    public async Task RowsWrittenBeforeTheLattice_ReadAsTheyDid()
    {
        // An event row and a day summary in the old shape (named columns only, no U_ columns).
        TableClient events = TestStorage.Table(_host, "usageevents");
        await events.AddEntityAsync(new TableEntity("acme|olga|20250314", "old-1")
        {
            ["Kind"] = "event", ["TenantId"] = "acme", ["UserId"] = "olga", ["Provider"] = "openai", ["Model"] = "gpt-4o",
            ["OccurredAt"] = new DateTimeOffset(2025, 3, 14, 10, 0, 0, TimeSpan.Zero), ["Status"] = "success",
            ["InputTokens"] = 1000L, ["CacheReadTokens"] = 200L, ["CacheWriteTokens"] = 0L, ["CacheWrite1hTokens"] = 0L, ["InputAudioTokens"] = 0L,
            ["CacheAudioReadTokens"] = 0L, ["OutputTokens"] = 50L, ["ReasoningTokens"] = 0L, ["OutputAudioTokens"] = 0L, ["WebSearches"] = 1L,
            ["Requests"] = 1L, ["CostUsd"] = "0.00275", ["Priced"] = true, ["RecordedAt"] = new DateTimeOffset(2025, 3, 14, 10, 0, 1, TimeSpan.Zero),
        });

        (_, JsonElement listed) = await _host.Client.GetJsonAsync("api/users/olga/events?tenant_id=acme&from=2025-03-14&to=2025-03-15");
        JsonElement usage = Assert.Single(listed.GetProperty("events").EnumerateArray()).GetProperty("usage");
        Assert.Equal(1000, usage.GetProperty("input_tokens").GetInt64());
        Assert.Equal(200, usage.GetProperty("units").GetProperty("cache_read_tokens").GetInt64());
        Assert.Equal(1, usage.GetProperty("units").GetProperty("web_searches").GetInt64());
        Assert.Equal(JsonValueKind.Null, Assert.Single(listed.GetProperty("events").EnumerateArray()).GetProperty("reported_cost_usd").ValueKind);
    }

    [Fact]
    public async Task AnUnknownCanonicalKey_IsRejected_EvenOutsideStrictMode()
    {
        (int status, JsonElement problem) = await _host.Client.PostRawAsync("api/usage", """
            {"tenant_id":"acme","user_id":"lena","model":"gpt-4o","usage":{"input_tokens":10,"input_image_token":5}}
            """);

        Assert.Equal(400, status);
        Assert.Contains("input_image_tokens", problem.GetProperty("errors").GetProperty("usage.input_image_token")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Price_AnswersTheUnitsTheKnownPartAndTheReportedDifference()
    {
        (int status, JsonElement quote) = await _host.Client.PostAsync("api/price", new
        {
            provider = "openai", model = "gpt-4o", reported_cost_usd = "0.01",
            usage = new { input_tokens = 1_000_000, input_document_pages = 3 },
        });

        Assert.Equal(200, status);
        Assert.False(quote.GetProperty("priced").GetBoolean()); // gpt-4o has no price for document pages: never a silent $0
        Assert.Equal(["input_document_pages"], quote.GetProperty("unpriced_classes").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(2.5m, quote.Money("known_cost_usd"));
        Assert.Equal(3, quote.GetProperty("usage").GetProperty("input_document_pages").GetInt64());
        Assert.Equal(0.01m, quote.Money("reported_cost_usd"));
        Assert.Equal(JsonValueKind.Null, quote.GetProperty("reported_cost_difference_usd").ValueKind);
    }
}
