using LlmCost.Tests.Shared;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using LlmCost.Core.Alerts;
using LlmCost.Core.Rollups;
using LlmCost.Functions.Hosting;
using LlmCost.Functions.Tests.Infrastructure;
using LlmCost.Storage;
using LlmCost.Storage.Operations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Operations;

/// <summary>The operations HTTP API and timers through the REAL app (Kestrel on loopback, real Azurite).</summary>
public sealed class OperationsApiTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 1, 0, 0, TimeSpan.Zero);

    private static async Task<(LlmCostTestHost Host, InMemoryUsageFactSource Source, FakeTimeProvider Time)> StartAsync()
    {
        var time = new FakeTimeProvider(Now);
        var source = new InMemoryUsageFactSource(time);
        var host = await LlmCostTestHost.StartAsync(o =>
        {
            o.Time = time;
            o.ConfigureServices = s => s.AddSingleton<IUsageFactSource>(source);
        });
        return (host, source, time);
    }

    private static async Task InvokeAsync(LlmCostTestHost host, string functionName)
    {
        var function = host.Services.GetServices<IBackgroundFunction>().Single(f => f.Definition.Name == functionName);
        await function.InvokeAsync(new FunctionInvocation(functionName, Guid.NewGuid().ToString()));
    }

    private static UsageFact Event(Random random, string tenant, string user, DateTimeOffset at) => new()
    {
        EventId = Guid.NewGuid().ToString("N"),
        TenantId = tenant,
        UserId = user,
        TeamId = random.Next(2) == 0 ? "red" : null,
        Provider = "openai",
        Model = random.Next(2) == 0 ? "gpt-4o" : "gpt-4o-mini",
        Timestamp = at,
        CostUsd = random.Next(1, 3_000_000) / 1_000_000m,
        InputTokens = random.Next(1, 5000),
        OutputTokens = random.Next(1, 900),
        Priced = random.Next(20) > 0,
        Succeeded = random.Next(10) > 0,
    };

    [Fact]
    public async Task Report_csv_re_read_matches_the_api_totals_and_the_raw_events()
    {
        var (host, source, _) = await StartAsync();
        await using var _host = host;
        var random = new Random(5);
        var day = new DateTimeOffset(2026, 11, 23, 0, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < 300; i++)
        {
            source.Add(Event(random, "acme", "u" + random.Next(6), day.AddSeconds(random.Next(86_400))));
            source.Add(Event(random, "other", "x", day.AddSeconds(random.Next(86_400))));
        }

        for (var i = 0; i < 50; i++)
        {
            source.Add(Event(random, "acme", "u1", day.AddDays(-random.Next(1, 20)).AddSeconds(random.Next(86_400))));
        }

        await InvokeAsync(host, "OpsRollups");
        var acmeDay = source.Events.Where(e => e.TenantId == "acme" && e.Timestamp >= day && e.Timestamp < day.AddDays(1)).ToList();
        var acmeMonth = source.Events.Where(e => e.TenantId == "acme" && e.Timestamp.Month == 11).ToList();

        using var created = await host.Client.PostAsJsonAsync("api/reports", new { tenant_id = "acme", period = "day", date = "2026-11-23" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var report = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        var totals = report.RootElement.GetProperty("totals");
        Assert.Equal(acmeDay.Sum(e => e.CostUsd), decimal.Parse(totals.GetProperty("cost_usd").GetString()!, CultureInfo.InvariantCulture));
        Assert.Equal(acmeDay.Count, totals.GetProperty("requests").GetInt64());
        var files = report.RootElement.GetProperty("files").EnumerateArray().ToList();
        AssertFields(report.RootElement, "tenant_id", "period", "start", "end", "as_of", "currency", "totals", "files");
        AssertFields(totals, "requests", "errors", "unpriced_requests", "input_tokens", "output_tokens", "cost_usd", "cost");
        // A report asked for in USD only: no currency block, no converted cost.
        Assert.Equal(JsonValueKind.Null, report.RootElement.GetProperty("currency").ValueKind);
        Assert.Equal(JsonValueKind.Null, totals.GetProperty("cost").ValueKind);
        Assert.All(files, f => AssertFields(f, "name", "path", "content_type", "size", "download_url"));
        Assert.Equal(("acme", "day"), (report.RootElement.GetProperty("tenant_id").GetString(), report.RootElement.GetProperty("period").GetString()));
        Assert.Equal(["daily.csv", "daily.json", "daily.svg"], files.Select(f => f.GetProperty("name").GetString()));
        Assert.All(files, f => Assert.StartsWith("reports/acme/2026/11/23/", f.GetProperty("path").GetString(), StringComparison.Ordinal));

        // Re-read the CSV through its download link and add it up independently.
        var csvUrl = files[0].GetProperty("download_url").GetString()!;
        var csv = await host.Client.GetStringAsync(new Uri(csvUrl));
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("period_start,dimension,key,requests,errors,unpriced_requests,input_tokens,output_tokens,cost_usd,units", lines[0]);
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        var tenantRows = rows.Where(r => r[1] == "tenant").ToList();
        Assert.Equal(acmeDay.Select(e => e.Timestamp.Hour).Distinct().Count(), tenantRows.Count);
        Assert.All(tenantRows, r => Assert.Equal("acme", r[2]));
        Assert.Equal(decimal.Parse(totals.GetProperty("cost_usd").GetString()!, CultureInfo.InvariantCulture), tenantRows.Sum(r => decimal.Parse(r[8], CultureInfo.InvariantCulture)));
        Assert.Equal(totals.GetProperty("requests").GetInt64(), tenantRows.Sum(r => long.Parse(r[3], CultureInfo.InvariantCulture)));
        Assert.Equal(totals.GetProperty("input_tokens").GetInt64(), tenantRows.Sum(r => long.Parse(r[6], CultureInfo.InvariantCulture)));
        foreach (var user in acmeDay.GroupBy(e => e.UserId))
        {
            Assert.Equal(user.Sum(e => e.CostUsd), rows.Where(r => r[1] == "user" && r[2] == user.Key).Sum(r => decimal.Parse(r[8], CultureInfo.InvariantCulture)));
        }

        var svg = await host.Client.GetStringAsync(new Uri(files[2].GetProperty("download_url").GetString()!));
        Assert.StartsWith("<svg", svg, StringComparison.Ordinal);

        // Monthly report and the rollup API agree with the raw events too.
        using var monthly = await host.Client.PostAsJsonAsync("api/reports", new { tenant_id = "acme", period = "month", date = "2026-11-23" });
        Assert.Equal(HttpStatusCode.Created, monthly.StatusCode);
        using var monthDoc = JsonDocument.Parse(await monthly.Content.ReadAsStringAsync());
        Assert.Equal(acmeMonth.Sum(e => e.CostUsd), decimal.Parse(monthDoc.RootElement.GetProperty("totals").GetProperty("cost_usd").GetString()!, CultureInfo.InvariantCulture));
        using var rollups = JsonDocument.Parse(await host.Client.GetStringAsync("api/rollups?tenant_id=acme&granularity=month&from=2026-11-01&to=2026-11-30&dimension=tenant"));
        Assert.Equal(acmeMonth.Sum(e => e.CostUsd), decimal.Parse(rollups.RootElement.GetProperty("rows")[0].GetProperty("cost_usd").GetString()!, CultureInfo.InvariantCulture));
        AssertFields(rollups.RootElement, "tenant_id", "granularity", "rows");
        Assert.Equal("month", rollups.RootElement.GetProperty("granularity").GetString());
        AssertFields(rollups.RootElement.GetProperty("rows")[0],
            "period_start", "dimension", "key", "requests", "errors", "unpriced_requests", "input_tokens", "output_tokens", "cost_usd");
        Assert.Equal(acmeMonth.Count, rollups.RootElement.GetProperty("rows")[0].GetProperty("requests").GetInt64());

        using var listing = JsonDocument.Parse(await host.Client.GetStringAsync("api/reports?tenant_id=acme"));
        var listed = listing.RootElement.GetProperty("reports").EnumerateArray().ToList();
        Assert.Equal(6, listed.Count);
        AssertFields(listing.RootElement, "tenant_id", "reports");
        Assert.All(listed, r => AssertFields(r, "path", "size", "content_type", "last_modified", "download_url"));
        Assert.All(listed, r => Assert.Contains("/api/reports/download?", r.GetProperty("download_url").GetString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Report_and_rollup_requests_name_the_bad_field()
    {
        var (host, _, _) = await StartAsync();
        await using var _host = host;
        await AssertProblemAsync(await host.Client.PostAsJsonAsync("api/reports", new { tenant_id = "acme", period = "week", date = "2026-11-23" }), "period");
        await AssertProblemAsync(await host.Client.PostAsJsonAsync("api/reports", new { tenant_id = "acme", period = "day", date = "23/11/2026" }), "date");
        await AssertProblemAsync(await host.Client.PostAsJsonAsync("api/reports", new { period = "day", date = "2026-11-23" }), "tenant_id");
        await AssertProblemAsync(await host.Client.GetAsync("api/reports/download?tenant_id=acme&path=reports/other/2026/11/23/daily.csv"), "path");
        await AssertProblemAsync(await host.Client.GetAsync("api/rollups?tenant_id=acme&granularity=week&from=2026-11-01&to=2026-11-02"), "granularity");
        await AssertProblemAsync(await host.Client.PostAsJsonAsync("api/alerts/subscriptions", new { tenant_id = "acme", channel = "pager" }), "channel");
        await AssertProblemAsync(await host.Client.PostAsJsonAsync("api/alerts/subscriptions", new { tenant_id = "acme", channel = "email", email = "nope" }), "email");
        await AssertProblemAsync(await host.Client.PostAsJsonAsync("api/alerts/rules", new { tenant_id = "acme", kind = "cost_anomaly", cooldown_minutes = -1 }), "cooldown_minutes");
        using var anonymous = host.CreateClient(null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("api/alerts?tenant_id=acme")).StatusCode);
    }

    private static readonly string[] AlertFields =
    [
        "alert_id", "kind", "tenant_id", "scope", "scope_id", "budget_id", "threshold_percent", "message", "created_at", "status", "status_reason",
        "read", "read_at", "details", "deliveries",
    ];

    /// <summary>The answer has exactly these fields: the wire shape a client was built against does not drift.</summary>
    private static void AssertFields(JsonElement element, params string[] names) =>
        Assert.Equal(names.Order(StringComparer.Ordinal), element.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));

    private static async Task AssertProblemAsync(HttpResponseMessage response, string field)
    {
        using (response)
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(field, out _), $"problem does not name {field}: {problem.RootElement}");
        }
    }

    [Fact]
    public async Task A_cost_spike_becomes_an_anomaly_alert_in_the_feed_and_a_signed_webhook()
    {
        var (host, source, time) = await StartAsync();
        await using var _host = host;
        await using var receiver = await WebhookReceiver.StartAsync();
        var random = new Random(3);
        // 14 ordinary days for alice (about $2/day, 20 calls) and bob, then a day where alice spends 10x.
        var today = new DateTimeOffset(2026, 11, 24, 0, 0, 0, TimeSpan.Zero);
        for (var d = 14; d >= 1; d--)
        {
            foreach (var user in new[] { "alice", "bob" })
            {
                for (var i = 0; i < 20; i++)
                {
                    source.Add(Event(random, "acme", user, today.AddDays(-d).AddMinutes(random.Next(1440))) with { CostUsd = 0.09m + (random.Next(0, 20) / 1000m), Priced = true, Succeeded = true });
                }
            }
        }

        for (var i = 0; i < 200; i++)
        {
            source.Add(Event(random, "acme", "alice", today.AddMinutes(random.Next(60))) with { CostUsd = 0.10m, Priced = true, Succeeded = true });
        }

        using (var subscribed = await host.Client.PostAsJsonAsync("api/alerts/subscriptions", new
        {
            tenant_id = "acme", channel = "webhook", url = receiver.Url.ToString(), secret = "0123456789abcdef-secret", kinds = new[] { "cost_anomaly" },
        }))
        {
            Assert.Equal(HttpStatusCode.Created, subscribed.StatusCode);
            using var sub = JsonDocument.Parse(await subscribed.Content.ReadAsStringAsync());
            Assert.True(sub.RootElement.GetProperty("has_secret").GetBoolean());
            Assert.False(sub.RootElement.TryGetProperty("secret", out _));
            AssertFields(sub.RootElement, "subscription_id", "tenant_id", "channel", "url", "email", "kinds", "has_secret", "created_at");
            Assert.Equal(receiver.Url.ToString(), sub.RootElement.GetProperty("url").GetString());
        }

        time.Advance(TimeSpan.FromMinutes(15)); // 01:15: the 00:00 hour is complete
        await InvokeAsync(host, "OpsRollups");
        await InvokeAsync(host, "OpsAnomalies");
        await InvokeAsync(host, "OpsAnomalies"); // a rerun re-raises the same ids: nothing new

        using var feed = JsonDocument.Parse(await host.Client.GetStringAsync("api/alerts?tenant_id=acme"));
        var alerts = feed.RootElement.GetProperty("alerts").EnumerateArray().ToList();
        var costAlerts = alerts.Where(a => a.GetProperty("kind").GetString() == AlertKinds.CostAnomaly).ToList();
        Assert.Contains(costAlerts, a => a.GetProperty("scope").GetString() == "user" && a.GetProperty("scope_id").GetString() == "alice");
        Assert.DoesNotContain(alerts, a => a.GetProperty("scope_id").GetString() == "bob");
        Assert.Equal(alerts.Count, alerts.Select(a => a.GetProperty("alert_id").GetString()).Distinct().Count());
        AssertFields(feed.RootElement, "alerts");
        Assert.All(alerts, a => AssertFields(a, AlertFields));
        Assert.All(alerts, a => Assert.Equal((JsonValueKind.False, JsonValueKind.Null), (a.GetProperty("read").ValueKind, a.GetProperty("deliveries").ValueKind)));

        // Fan-out: every queued alert once through the queue function; the webhook gets the cost anomalies only.
        var queue = host.Services.GetRequiredService<LlmCostStorage>().Queue(OperationsStorage.AlertQueue);
        var fanOut = host.Services.GetServices<IBackgroundFunction>().Single(f => f.Definition.Name == "OpsAlertFanOut");
        var messages = 0;
        while ((await queue.ReceiveMessageAsync()).Value is { } message)
        {
            await fanOut.InvokeAsync(new FunctionInvocation("OpsAlertFanOut", "i", message.Body.ToString(), message.DequeueCount));
            await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
            messages++;
        }

        Assert.Equal(alerts.Count, messages);
        Assert.Equal(costAlerts.Count, receiver.Requests.Count);
        var first = receiver.Requests.First();
        Assert.StartsWith("sha256=", first.Headers["X-LlmCost-Signature"], StringComparison.Ordinal);

        // Mark as read: it leaves the unread feed.
        var alertId = costAlerts[0].GetProperty("alert_id").GetString()!;
        using (var read = await host.Client.PostAsync($"api/alerts/{alertId}/read?tenant_id=acme", null))
        {
            Assert.Equal(HttpStatusCode.NoContent, read.StatusCode);
        }

        using var unread = JsonDocument.Parse(await host.Client.GetStringAsync("api/alerts?tenant_id=acme&unread=true"));
        Assert.DoesNotContain(unread.RootElement.GetProperty("alerts").EnumerateArray(), a => a.GetProperty("alert_id").GetString() == alertId);
        using var detail = JsonDocument.Parse(await host.Client.GetStringAsync($"api/alerts/{alertId}?tenant_id=acme"));
        Assert.Equal("delivered", detail.RootElement.GetProperty("status").GetString());
        Assert.Equal("delivered", detail.RootElement.GetProperty("deliveries")[0].GetProperty("status").GetString());
        AssertFields(detail.RootElement, AlertFields);
        Assert.True(detail.RootElement.GetProperty("read").GetBoolean());
        AssertFields(detail.RootElement.GetProperty("deliveries")[0], "subscription_id", "status", "attempts", "last_error", "updated_at");
        Assert.Equal(1, detail.RootElement.GetProperty("deliveries")[0].GetProperty("attempts").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client.PostAsync($"api/alerts/nope/read?tenant_id=acme", null)).StatusCode);
        _ = Encoding.UTF8;
    }

    [Fact]
    public async Task Subscriptions_and_rules_have_crud()
    {
        var (host, _, _) = await StartAsync();
        await using var _host = host;
        using var created = await host.Client.PostAsJsonAsync("api/alerts/subscriptions", new { tenant_id = "acme", channel = "email", email = "ops@example.test" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("subscription_id").GetString();
        using var list = JsonDocument.Parse(await host.Client.GetStringAsync("api/alerts/subscriptions?tenant_id=acme"));
        Assert.Equal(id, list.RootElement.GetProperty("subscriptions")[0].GetProperty("subscription_id").GetString());
        AssertFields(list.RootElement, "subscriptions");
        AssertFields(list.RootElement.GetProperty("subscriptions")[0], "subscription_id", "tenant_id", "channel", "url", "email", "kinds", "has_secret", "created_at");
        Assert.Equal("ops@example.test", list.RootElement.GetProperty("subscriptions")[0].GetProperty("email").GetString());
        Assert.Equal(HttpStatusCode.NoContent, (await host.Client.DeleteAsync($"api/alerts/subscriptions/{id}?tenant_id=acme")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client.DeleteAsync($"api/alerts/subscriptions/{id}?tenant_id=acme")).StatusCode);

        using var rule = await host.Client.PostAsJsonAsync("api/alerts/rules", new { tenant_id = "acme", kind = "cost_anomaly", scope = "user", scope_id = "alice", cooldown_minutes = 30 });
        Assert.Equal(HttpStatusCode.Created, rule.StatusCode);
        var ruleId = JsonDocument.Parse(await rule.Content.ReadAsStringAsync()).RootElement.GetProperty("rule_id").GetString();
        using var update = await host.Client.PutAsJsonAsync($"api/alerts/rules/{ruleId}", new { tenant_id = "acme", kind = "cost_anomaly", enabled = false, cooldown_minutes = 5 });
        Assert.Equal(HttpStatusCode.OK, update.StatusCode);
        using var got = JsonDocument.Parse(await host.Client.GetStringAsync($"api/alerts/rules/{ruleId}?tenant_id=acme"));
        Assert.False(got.RootElement.GetProperty("enabled").GetBoolean());
        Assert.Equal(5, got.RootElement.GetProperty("cooldown_minutes").GetInt32());
        AssertFields(got.RootElement, "rule_id", "tenant_id", "kind", "scope", "scope_id", "enabled", "cooldown_minutes", "created_at");
        Assert.Equal((JsonValueKind.Null, JsonValueKind.Null), (got.RootElement.GetProperty("scope").ValueKind, got.RootElement.GetProperty("scope_id").ValueKind));
        using var rules = JsonDocument.Parse(await host.Client.GetStringAsync("api/alerts/rules?tenant_id=acme"));
        AssertFields(rules.RootElement, "rules");
        Assert.Equal(ruleId, rules.RootElement.GetProperty("rules")[0].GetProperty("rule_id").GetString());
        Assert.Equal(HttpStatusCode.NoContent, (await host.Client.DeleteAsync($"api/alerts/rules/{ruleId}?tenant_id=acme")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client.GetAsync($"api/alerts/rules/{ruleId}?tenant_id=acme")).StatusCode);
    }
}
