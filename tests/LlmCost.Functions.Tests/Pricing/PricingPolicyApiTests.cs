using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Pricing;

/// <summary>
/// Tenant price policies over real HTTP against Azurite: a policy changes the next event of its tenant and of no
/// other, volume tiers follow the tenant's month-to-date spend as the service recorded it, versions are kept and
/// audited, bad policies are refused naming the field. gpt-4o list prices: input 2.50, output 10.00 USD/MTok, so
/// 1,000 in + 500 out = 0.0075 USD.
/// </summary>
public sealed class PricingPolicyApiTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2025, 3, 15, 12, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Now);
    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LlmCostTestHost.StartAsync(o =>
    {
        o.Time = _time;
        // Exact tier switching for the test; the default re-reads the month at most every 5 seconds.
        o.Settings["LlmCost:Pricing:MonthToDateRefreshSeconds"] = "0";
    });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static object Event(string id, string tenant, string timestamp, long input = 1000, long output = 500, string model = "gpt-4o") => new
    {
        event_id = id, tenant_id = tenant, user_id = "u1", provider = "openai", model, timestamp,
        usage = new { input_tokens = input, output_tokens = output },
    };

    private async Task<(int Status, JsonElement Body)> PutAsync(string tenant, object body)
    {
        using HttpResponseMessage response = await _host.Client.PutAsJsonAsync(new Uri($"api/pricing/policies/{tenant}", UriKind.Relative), body);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private async Task<JsonElement> RecordAsync(object e)
    {
        (int status, JsonElement body) = await _host.Client.PostAsync("api/usage", e);
        Assert.Equal(200, status);
        return body;
    }

    [Fact]
    public async Task APolicyChangesTheNextEventOfItsTenantAndOfNoOther()
    {
        JsonElement before = await RecordAsync(Event("e1", "acme", "2025-03-15T11:00:00Z"));
        Assert.Equal(0.0075m, before.Money("cost_usd"));
        Assert.Equal(0.0075m, before.Money("list_cost_usd"));
        Assert.Equal(JsonValueKind.Null, before.GetProperty("policy_version").ValueKind);

        (int status, JsonElement put) = await PutAsync("acme", new { discount_percent = 10, regional_uplift = 1.2 });
        Assert.Equal(200, status);
        Assert.Equal(1, put.GetProperty("current").GetProperty("version").GetInt32());
        Assert.Equal(10, put.GetProperty("current").GetProperty("policy").GetProperty("discount_percent").GetDecimal());

        JsonElement acme = await RecordAsync(Event("e2", "acme", "2025-03-15T12:00:00Z"));
        Assert.Equal(0.0075m * 1.2m * 0.9m, acme.Money("cost_usd"));
        Assert.Equal(0.0075m, acme.Money("list_cost_usd"));
        Assert.Equal(1, acme.GetProperty("policy_version").GetInt32());
        Assert.Contains("negotiated discount 10%", acme.GetProperty("price_source").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("builtin:genai-prices@", acme.GetProperty("catalog_version").GetString(), StringComparison.Ordinal);

        JsonElement other = await RecordAsync(Event("e3", "globex", "2025-03-15T12:00:00Z"));
        Assert.Equal(0.0075m, other.Money("cost_usd"));
        Assert.Equal(JsonValueKind.Null, other.GetProperty("policy_version").ValueKind);

        // The stored event keeps list cost, effective cost, policy and catalog version.
        TableEntity stored = (await TestStorage.Table(_host, "usageevents").GetEntityAsync<TableEntity>("acme|u1|20250315", "e2")).Value;
        Assert.Equal("0.0081", stored.GetString("CostUsd"));
        Assert.Equal("0.0075", stored.GetString("ListCostUsd"));
        Assert.Equal(1, stored.GetInt32("PolicyVersion"));
        Assert.StartsWith("builtin:", stored.GetString("CatalogVersion"), StringComparison.Ordinal);

        // An event timestamped before the policy took effect is priced at the terms of its own time.
        JsonElement late = await RecordAsync(Event("e4", "acme", "2025-03-14T12:00:00Z"));
        Assert.Equal(0.0075m, late.Money("cost_usd"));

        // /api/price applies the same terms and shows both costs.
        (int priceStatus, JsonElement quote) = await _host.Client.PostAsync("api/price", Event("q1", "acme", "2025-03-15T12:00:00Z"));
        Assert.Equal(200, priceStatus);
        Assert.Equal(0.0081m, quote.Money("cost_usd"));
        Assert.Equal(0.0075m, quote.Money("list_cost_usd"));
        Assert.Equal(1, quote.GetProperty("policy_version").GetInt32());

        (int listedStatus, JsonElement listed) = await _host.Client.GetJsonAsync("api/users/u1/events?tenant_id=acme&from=2025-03-15T00:00:00Z&to=2025-03-16T00:00:00Z");
        Assert.Equal(200, listedStatus);
        JsonElement e2 = listed.GetProperty("events").EnumerateArray().Single(e => e.GetProperty("event_id").GetString() == "e2");
        Assert.Equal(0.0075m, e2.Money("list_cost_usd"));
        Assert.Equal(1, e2.GetProperty("policy_version").GetInt32());
    }

    [Fact]
    public async Task AVolumeTierCrossedMidMonthAppliesToTheNextEvent()
    {
        (int status, _) = await PutAsync("tiered", new
        {
            discount_percent = 5,
            volume_tiers = new[] { new { basis = "monthly_spend_usd", threshold = 0.02m, discount_percent = 20 } },
            effective_from = "2025-02-01T00:00:00Z",
        });
        Assert.Equal(200, status);

        // Under the threshold: the negotiated 5% (0.0075 × 0.95 = 0.007125 each).
        decimal spent = 0m;
        for (int i = 0; i < 3; i++)
        {
            JsonElement e = await RecordAsync(Event($"t{i}", "tiered", $"2025-03-1{i}T10:00:00Z"));
            Assert.Equal(0.007125m, e.Money("cost_usd"));
            Assert.Contains("negotiated discount 5%", e.GetProperty("price_source").GetString(), StringComparison.Ordinal);
            spent += e.Money("cost_usd");
        }

        Assert.True(spent > 0.02m);

        // Month-to-date is now 0.021375 (the service's own tenant rows): the tier applies from the next event.
        JsonElement crossed = await RecordAsync(Event("t9", "tiered", "2025-03-14T10:00:00Z"));
        Assert.Equal(0.0075m * 0.8m, crossed.Money("cost_usd"));
        Assert.Contains("volume tier >= 0.02 USD this month", crossed.GetProperty("price_source").GetString(), StringComparison.Ordinal);

        // Another tenant with the same usage is untouched, and another month has its own (lower) figure.
        JsonElement other = await RecordAsync(Event("o1", "plain", "2025-03-14T10:00:00Z"));
        Assert.Equal(0.0075m, other.Money("cost_usd"));
        JsonElement february = await RecordAsync(Event("t10", "tiered", "2025-02-20T10:00:00Z"));
        Assert.Equal(0.007125m, february.Money("cost_usd"));
    }

    [Fact]
    public async Task VersionsAreKeptAuditedAndDeletionReturnsToListPrices()
    {
        Assert.Equal(200, (await PutAsync("hist", new { discount_percent = 10, effective_from = "2025-03-01T00:00:00Z" })).Status);
        (int status, JsonElement second) = await PutAsync("hist", new
        {
            models = new object[] { new { model = "hist-special", prices = new { input_mtok = 1, output_mtok = 2 } } },
            effective_from = "2025-03-15T11:00:00Z",
        });
        Assert.Equal(200, status);
        Assert.Equal(2, second.GetProperty("versions").GetArrayLength());
        Assert.Equal(2, second.GetProperty("current").GetProperty("version").GetInt32());

        // Events are priced by the version in force at their own timestamp.
        Assert.Equal(0.00675m, (await RecordAsync(Event("h1", "hist", "2025-03-15T10:00:00Z"))).Money("cost_usd"));
        JsonElement special = await RecordAsync(Event("h2", "hist", "2025-03-15T11:30:00Z", model: "hist-special"));
        Assert.Equal(0.002m, special.Money("cost_usd")); // 1000 × 1 + 500 × 2 per million
        Assert.Equal(2, special.GetProperty("policy_version").GetInt32());

        using (HttpResponseMessage deleted = await _host.Client.DeleteAsync(new Uri("api/pricing/policies/hist", UriKind.Relative)))
        {
            Assert.Equal(200, (int)deleted.StatusCode);
        }

        (int getStatus, JsonElement history) = await _host.Client.GetJsonAsync("api/pricing/policies/hist");
        Assert.Equal(200, getStatus);
        Assert.Equal(JsonValueKind.Null, history.GetProperty("current").ValueKind);
        JsonElement[] versions = history.GetProperty("versions").EnumerateArray().ToArray();
        Assert.Equal([1, 2, 3], versions.Select(v => v.GetProperty("version").GetInt32()));
        Assert.True(versions[2].GetProperty("deleted").GetBoolean());
        Assert.Equal(10, versions[0].GetProperty("policy").GetProperty("discount_percent").GetDecimal()); // never edited

        Assert.Equal(0.0075m, (await RecordAsync(Event("h3", "hist", "2025-03-15T12:00:00Z"))).Money("cost_usd"));
        using (HttpResponseMessage again = await _host.Client.DeleteAsync(new Uri("api/pricing/policies/hist", UriKind.Relative)))
        {
            Assert.Equal(404, (int)again.StatusCode);
        }

        (int auditStatus, JsonElement audit) = await _host.Client.GetJsonAsync("api/audit?tenant_id=hist");
        Assert.Equal(200, auditStatus);
        string[] actions = audit.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("action").GetString()!).ToArray();
        Assert.Equal(2, actions.Count(a => a == "pricing_policy.put"));
        Assert.Equal(1, actions.Count(a => a == "pricing_policy.delete"));
    }

    [Theory]
    [InlineData("{\"discount_percent\": 120}", "discount_percent")]
    [InlineData("{\"regional_uplift\": 0}", "regional_uplift")]
    [InlineData("{\"volume_tiers\": [{\"basis\": \"monthly_spend_usd\", \"threshold\": 10, \"discount_percent\": -1}]}", "volume_tiers[0].discount_percent")]
    [InlineData("{\"models\": [{\"model\": \"x\", \"prices\": {\"input_mtoken\": 1}}]}", "models[0].prices.input_mtoken")]
    [InlineData("{\"models\": [{\"model\": \"x\", \"map_to_model\": \"no-such-model-anywhere\"}]}", "models[0].map_to_model")]
    [InlineData("{\"discount\": 10}", "discount")]
    [InlineData("{\"discount_percent\": \"ten\"}", "discount_percent")]
    [InlineData("{\"discount_percent\": 10, \"effective_from\": \"2025-03-01 00:00\"}", "effective_from")]
    [InlineData("[1]", "body")]
    public async Task AnInvalidPolicyIsRefusedNamingTheFieldAndNothingIsStored(string json, string field)
    {
        using var content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await _host.Client.PutAsync(new Uri("api/pricing/policies/bad", UriKind.Relative), content);
        Assert.Equal(400, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        JsonElement problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"expected an error for '{field}': {problem}");

        (_, JsonElement history) = await _host.Client.GetJsonAsync("api/pricing/policies/bad");
        Assert.Equal(0, history.GetProperty("versions").GetArrayLength());
    }

    [Fact]
    public async Task BudgetAuthorisationReservesAtTheTenantsPrice()
    {
        (int created, _) = await _host.Client.PostAsync("api/budgets", new { tenant_id = "authz", scope = "user", scope_id = "bob", amount_usd = "1", period = "daily", mode = "hard" });
        Assert.Equal(201, created);
        var authorize = new { tenant_id = "authz", user_id = "bob", provider = "openai", model = "gpt-4o-mini", input_tokens = 1000, max_tokens = 1000 };

        // gpt-4o-mini: 1,000 in × 0.15 + 1,000 out × 0.60 per million = 0.00075 at list price.
        (_, JsonElement list) = await _host.Client.PostAsync("api/budgets/authorize", authorize);
        Assert.Equal(0.00075m, list.Money("reserved_usd"));

        Assert.Equal(200, (await PutAsync("authz", new { discount_percent = 20 })).Status);
        (_, JsonElement discounted) = await _host.Client.PostAsync("api/budgets/authorize", authorize);
        Assert.Equal("allow", discounted.GetProperty("decision").GetString());
        Assert.Equal(0.0006m, discounted.Money("reserved_usd"));
    }

    [Fact]
    public async Task OnlyAdminKeysManagePolicies()
    {
        string ingest = await _host.CreateKeyAsync("ingest", "acme");
        string reader = await _host.CreateKeyAsync("reader", "acme");
        foreach (string key in new[] { ingest, reader })
        {
            using HttpClient client = _host.CreateClient(key);
            using HttpResponseMessage put = await client.PutAsJsonAsync(new Uri("api/pricing/policies/acme", UriKind.Relative), new { discount_percent = 50 });
            Assert.Equal(403, (int)put.StatusCode);
            using HttpResponseMessage get = await client.GetAsync(new Uri("api/pricing/policies/acme", UriKind.Relative));
            Assert.Equal(403, (int)get.StatusCode);
        }

        (_, JsonElement history) = await _host.Client.GetJsonAsync("api/pricing/policies/acme");
        Assert.Equal(0, history.GetProperty("versions").GetArrayLength());
    }
}
