using System.Globalization;
using System.Text.Json;
using LlmCost.Functions.Tests.Infrastructure;

namespace LlmCost.Client.Tests.Infrastructure;

/// <summary>What the tests read back from the real service: budget status and usage totals, through its HTTP API.</summary>
public static class ServiceScenario
{
    public static async Task<string> CreateUserBudgetAsync(LlmCostTestHost host, string tenant, string user, string amountUsd, string mode = "hard")
    {
        (int status, JsonElement body) = await host.Client.PostAsync("api/budgets", new
        {
            tenant_id = tenant, scope = "user", scope_id = user, amount_usd = amountUsd, period = "monthly", mode,
        });
        Assert.True(status == 201, body.ToString());
        return body.GetProperty("budget_id").GetString()!;
    }

    public static async Task<(decimal Spent, decimal Reserved, int Active, long Events)> BudgetAsync(LlmCostTestHost host, string budgetId)
    {
        (int status, JsonElement body) = await host.Client.GetJsonAsync($"api/budgets/{budgetId}/status");
        Assert.True(status == 200, body.ToString());
        return (body.Money("spent_usd"), body.Money("reserved_usd"), body.GetProperty("active_reservations").GetInt32(),
            body.GetProperty("event_count").GetInt64());
    }

    /// <summary>The user's totals over the days around now (explicit range: the service clock may be a fake one).</summary>
    public static async Task<(decimal Cost, long Events, long Input, long Output)> UsageAsync(LlmCostTestHost host, string tenant, string user)
    {
        string from = DateTime.UtcNow.AddDays(-2).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        string to = DateTime.UtcNow.AddDays(2).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        (int status, JsonElement body) = await host.Client.GetJsonAsync($"api/users/{user}/usage?tenant_id={tenant}&from={from}&to={to}");
        Assert.True(status == 200, body.ToString());
        JsonElement total = body.GetProperty("total");
        return (total.Money("cost_usd"), total.GetProperty("events").GetInt64(), total.GetProperty("input_tokens").GetInt64(),
            total.GetProperty("output_tokens").GetInt64());
    }

    /// <summary>The service's price for a call (the oracle for "recorded exactly this").</summary>
    public static async Task<decimal> PriceAsync(LlmCostTestHost host, string model, object usage, string provider = "openai")
    {
        (int status, JsonElement body) = await host.Client.PostAsync("api/price", new { provider, model, usage });
        Assert.True(status == 200, body.ToString());
        Assert.True(body.GetProperty("priced").GetBoolean(), body.ToString());
        return body.Money("cost_usd");
    }

    /// <summary>The user's stored events, read with the admin key (an app's ingest key cannot read).</summary>
    public static async Task<List<RecordedEvent>> EventsAsync(LlmCostTestHost host, string tenant, string user)
    {
        await using LlmCostClient admin = LlmCostClient.Create(ClientOptions(host.BaseAddress, LlmCostTestHost.AdminKey, tenant));
        var events = new List<RecordedEvent>();
        await foreach (RecordedEvent e in admin.ListUserEventsAsync(user, new EventsQuery
        {
            From = DateTimeOffset.UtcNow.AddDays(-2), To = DateTimeOffset.UtcNow.AddDays(2),
        }))
        {
            events.Add(e);
        }

        return events;
    }

    public static LlmCostClientOptions ClientOptions(Uri baseAddress, string apiKey, string tenant) => new()
    {
        BaseAddress = baseAddress,
        ApiKey = apiKey,
        TenantId = tenant,
        RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        FlushInterval = TimeSpan.FromMilliseconds(100),
        MaxOutageBackoff = TimeSpan.FromMilliseconds(300),
        // Loaded CI machines are slow: an attempt must not time out merely because Azurite is busy.
        AttemptTimeout = TimeSpan.FromSeconds(60),
    };
}
