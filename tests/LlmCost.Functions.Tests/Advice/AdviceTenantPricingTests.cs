using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Advice;

/// <summary>
/// Advice prices a tenant's usage as its calls are priced: with its price policy, resolved at request time. Two
/// tenants record the same calls; one has a 50 % discount, so every current, projected and saved figure of its
/// recommendations, and every estimated cost of its model selection, is exactly half the other's.
/// </summary>
public sealed class AdviceTenantPricingTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 2, 0, 0, TimeSpan.Zero);

    private const string Quality = """
        {"quality": {"openai:gpt-4o": 70, "openai:gpt-6-luna": 72, "anthropic:claude-opus-4-1": 80, "anthropic:claude-haiku-4-5": 80}}
        """;

    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LlmCostTestHost.StartAsync(o =>
    {
        o.Time = new FakeTimeProvider(Now);
        o.Settings["LlmCost:Advice:Settings"] = "{\"tenants\": {\"list\": " + Quality + ", \"half\": " + Quality + "}}";
    });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private async Task RecordAsync(string tenant)
    {
        var random = new Random(3);
        var events = new List<object>();
        for (int i = 0; i < 200; i++)
        {
            events.Add(new
            {
                event_id = $"a{i}", tenant_id = tenant, user_id = $"user-{i % 7}", team_id = i % 2 == 0 ? "red" : "blue",
                provider = i % 2 == 0 ? "openai" : "anthropic", model = i % 2 == 0 ? "gpt-4o" : "claude-opus-4-1",
                timestamp = new DateTimeOffset(2026, 11, 16, 0, 0, 0, TimeSpan.Zero).AddMinutes(random.Next(7 * 24 * 60)).ToString("O", CultureInfo.InvariantCulture),
                usage = new { input_tokens = random.Next(100, 20_000), output_tokens = random.Next(10, 3_000) },
            });
        }

        (int status, JsonElement body) = await _host.Client.PostAsync("api/usage", new { events });
        Assert.True(status == 200, body.ToString());
    }

    private async Task<Dictionary<string, JsonElement>> RecommendationsAsync(string tenant)
    {
        (int status, JsonElement answer) = await _host.Client.GetJsonAsync($"api/recommendations?tenant_id={tenant}&from=2026-11-16&to=2026-11-23&kind=cheaper_model");
        Assert.True(status == 200, answer.ToString());
        return answer.GetProperty("recommendations").EnumerateArray().ToDictionary(
            r => $"{r.GetProperty("model")} -> {r.GetProperty("suggested_provider")}/{r.GetProperty("suggested_model")}", r => r);
    }

    private async Task<Dictionary<string, decimal>> SelectAsync(string tenant)
    {
        (int status, JsonElement answer) = await _host.Client.PostAsync("api/models/select", new
        {
            tenant_id = tenant, providers = new[] { "anthropic" }, expected_input_tokens = 1000, expected_output_tokens = 1000, max_candidates = 100,
        });
        Assert.True(status == 200, answer.ToString());
        return answer.GetProperty("candidates").EnumerateArray().ToDictionary(c => c.GetProperty("model").GetString()!, c => c.Money("estimated_cost_usd"));
    }

    [Fact]
    public async Task ATenantWithHalfPricesGetsHalfTheSavings()
    {
        using (HttpResponseMessage put = await _host.Client.PutAsJsonAsync(
            new Uri("api/pricing/policies/half", UriKind.Relative), new { discount_percent = 50, effective_from = "2026-11-01T00:00:00Z" }))
        {
            Assert.Equal(200, (int)put.StatusCode);
        }

        await RecordAsync("list");
        await RecordAsync("half");

        Dictionary<string, JsonElement> list = await RecommendationsAsync("list");
        Dictionary<string, JsonElement> half = await RecommendationsAsync("half");
        Assert.Equal(["claude-opus-4-1 -> anthropic/claude-haiku-4-5", "gpt-4o -> openai/gpt-6-luna"], list.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(list.Keys.Order(StringComparer.Ordinal), half.Keys.Order(StringComparer.Ordinal));
        foreach ((string key, JsonElement full) in list)
        {
            Assert.True(full.Money("savings_usd") > 0m, key);
            foreach (string figure in new[] { "current_cost_usd", "projected_cost_usd", "savings_usd" })
            {
                Assert.Equal(full.Money(figure) / 2, half[key].Money(figure));
            }
        }

        Dictionary<string, decimal> listCosts = await SelectAsync("list");
        Dictionary<string, decimal> halfCosts = await SelectAsync("half");
        Assert.Equal(0.006m, listCosts["claude-haiku-4-5"]); // list: $1 / $5 per M tokens
        Assert.Equal(listCosts.Keys.Order(StringComparer.Ordinal), halfCosts.Keys.Order(StringComparer.Ordinal));
        Assert.All(listCosts, c => Assert.Equal(c.Value / 2, halfCosts[c.Key]));
    }
}
