using System.Globalization;
using System.Text;
using System.Text.Json;
using LlmCost.Core.Alerts;
using LlmCost.Core.Retention;
using LlmCost.Functions.Hosting;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Operations;

/// <summary>
/// GDPR through the real app: the export holds everything kept about the user (every event field, archived events,
/// budget state and reservations, keys bound to them, alerts, audit lines), and an erasure removes or rewrites every
/// copy (raw rows, archives, rollups, report files already written, budget rows, keys, alerts) and says what it did.
/// </summary>
public sealed class GdprTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 5, 20, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Old = new(2026, 5, 17, 9, 0, 0, TimeSpan.Zero);
    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LlmCostTestHost.StartAsync(o =>
    {
        o.Time = new FakeTimeProvider(Now);
        o.Settings["LlmCost:Retention:RawEventDays"] = "1";
    });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private Task InvokeAsync(string name) =>
        _host.Services.GetServices<IBackgroundFunction>().Single(f => f.Definition.Name == name).InvokeAsync(new FunctionInvocation(name, Guid.NewGuid().ToString()));

    private async Task RecordAsync(object body)
    {
        var (status, answer) = await _host.Client.PostAsync("api/usage", body);
        Assert.True(status == 200, answer.ToString());
    }

    private async Task<string> ReportCsvAsync(string date)
    {
        var (status, report) = await _host.Client.GetJsonAsync("api/reports?tenant_id=acme");
        Assert.Equal(200, status);
        var path = report.GetProperty("reports").EnumerateArray().Select(r => r.GetProperty("path").GetString()!)
            .Single(p => p.Contains(date, StringComparison.Ordinal) && p.EndsWith("daily.csv", StringComparison.Ordinal));
        return Encoding.UTF8.GetString((await _host.Services.GetRequiredService<IArchiveStore>().ReadAsync(path))!);
    }

    [Fact]
    public async Task ExportHoldsEverythingAndEraseRemovesEveryCopy()
    {
        var (budgetStatus, _) = await _host.Client.PostAsync("api/budgets", new
        {
            tenant_id = "acme", scope = "user", scope_id = "alice", amount_usd = "100", period = "monthly", mode = "soft",
        });
        Assert.Equal(201, budgetStatus);
        var aliceKey = await _host.CreateKeyAsync("reader", "acme", "alice");
        var (authStatus, authorized) = await _host.Client.PostAsync("api/budgets/authorize", new
        {
            tenant_id = "acme", user_id = "alice", provider = "openai", model = "gpt-4o", input_tokens = 1000, max_tokens = 500,
        });
        Assert.Equal(200, authStatus);
        var reservation = authorized.GetProperty("reservation_id").GetString()!;
        await RecordAsync(new
        {
            event_id = "today-alice", tenant_id = "acme", user_id = "alice", team_id = "red", app = "chat-app", provider = "openai", model = "gpt-4o",
            timestamp = "2026-05-20T11:00:00Z", latency_ms = 1234, reservation_id = reservation, tags = new { feature = "summary" },
            usage = new { input_tokens = 1000, cache_read_tokens = 400, output_tokens = 300, reasoning_tokens = 120 },
        });
        await RecordAsync(new { event_id = "today-bob", tenant_id = "acme", user_id = "bob", model = "gpt-4o", timestamp = "2026-05-20T11:00:00Z", usage = new { input_tokens = 10, output_tokens = 1 } });
        await RecordAsync(new { event_id = "old-alice", tenant_id = "acme", user_id = "alice", model = "gpt-4o", app = "batch", timestamp = Old.ToString("O", CultureInfo.InvariantCulture), usage = new { input_tokens = 500, output_tokens = 50 } });
        await RecordAsync(new { event_id = "old-bob", tenant_id = "acme", user_id = "bob", model = "gpt-4o", timestamp = Old.ToString("O", CultureInfo.InvariantCulture), usage = new { input_tokens = 700, output_tokens = 70 } });
        await _host.Services.GetRequiredService<IAlertPublisher>().PublishAsync([new Alert
        {
            AlertId = "spike-alice", Kind = AlertKinds.CostAnomaly, TenantId = "acme", Scope = "user", ScopeId = "alice", CreatedAt = Now, Message = "spike",
        }]);
        await InvokeAsync("OpsRollups");
        foreach (var date in new[] { "2026-05-17", "2026-05-20" })
        {
            var (reportStatus, _) = await _host.Client.PostAsync("api/reports", new { tenant_id = "acme", period = "day", date });
            Assert.Equal(201, reportStatus);
        }

        await InvokeAsync("OpsRetention"); // May 17 goes to the archive
        Assert.Contains("alice", await ReportCsvAsync("2026/05/17"), StringComparison.Ordinal);

        // ---- export ----
        using (var export = JsonDocument.Parse(await _host.Client.GetStringAsync("api/users/alice/export?tenant_id=acme")))
        {
            var root = export.RootElement;
            Assert.Equal(2, root.GetProperty("event_count").GetInt32());
            var events = root.GetProperty("events").EnumerateArray().ToDictionary(e => e.GetProperty("event_id").GetString()!);
            Assert.Equal("archive", events["old-alice"].GetProperty("stored_as").GetString());
            Assert.Equal("batch", events["old-alice"].GetProperty("app").GetString());
            var today = events["today-alice"];
            Assert.Equal("raw", today.GetProperty("stored_as").GetString());
            Assert.Equal(("chat-app", 1234L, reservation, "summary"), (today.GetProperty("app").GetString(), today.GetProperty("latency_ms").GetInt64(),
                today.GetProperty("reservation_id").GetString(), today.GetProperty("tags").GetProperty("feature").GetString()));
            Assert.Equal((400L, 120L), (today.GetProperty("usage").GetProperty("cache_read_tokens").GetInt64(), today.GetProperty("usage").GetProperty("reasoning_tokens").GetInt64()));
            var budgets = root.GetProperty("budgets");
            Assert.NotEmpty(budgets.GetProperty("states").EnumerateArray());
            Assert.Contains(budgets.GetProperty("reservations").EnumerateArray(), r => r.GetProperty("reservationId").GetString() == reservation);
            Assert.Single(budgets.GetProperty("budgets").EnumerateArray());
            Assert.Single(root.GetProperty("api_keys").EnumerateArray());
            Assert.Equal("spike-alice", root.GetProperty("alerts")[0].GetProperty("alert_id").GetString());
            // The documented export shape (UserDataExport): its fields, plus one section per module holding user data.
            Assert.Equal(
                ["alerts", "api_keys", "audit", "budgets", "cost_usd", "event_count", "events", "exported_at", "tenant_id", "user_id"],
                root.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
            Assert.Equal(
                ["alert_id", "budget_id", "created_at", "details", "kind", "message", "read_at", "status"],
                root.GetProperty("alerts")[0].EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
            Assert.All(root.GetProperty("audit").EnumerateArray(), a => Assert.Equal(
                ["action", "actor", "at", "audit_id", "details", "target_id", "target_type"], a.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)));
            var audit = root.GetProperty("audit").EnumerateArray().Select(a => a.GetProperty("action").GetString()).ToList();
            Assert.Contains("key.create", audit);
            Assert.Contains("budget.create", audit);
            Assert.Contains("gdpr.export", audit);
        }

        // ---- erasure ----
        var (status, deleted) = await _host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "api/users/alice?tenant_id=acme"))
            .ContinueWith(async t => ((int)t.Result.StatusCode, JsonDocument.Parse(await t.Result.Content.ReadAsStringAsync()).RootElement.Clone())).Unwrap();
        Assert.Equal(200, status);
        Assert.Equal(1, deleted.GetProperty("raw_events_deleted").GetInt32());
        Assert.Equal((1, 1), (deleted.GetProperty("archives_rewritten").GetInt32(), deleted.GetProperty("archived_events_removed").GetInt32()));
        Assert.Equal(2, deleted.GetProperty("reports_rewritten").GetInt32());
        Assert.Equal(1, deleted.GetProperty("alerts_deleted").GetInt32());
        Assert.True(deleted.GetProperty("held_by_modules").GetProperty("budgets").GetInt32() >= 3, deleted.ToString());
        Assert.Equal(1, deleted.GetProperty("held_by_modules").GetProperty("api_keys").GetInt32());
        Assert.Equal(
            ["alerts_deleted", "archived_events_removed", "archives_rewritten", "audit_kept", "audited", "deleted_at", "held_by_modules", "ingest_log_rows_deleted",
                "raw_events_deleted", "reports_rewritten", "rollup_days_recomputed", "tenant_days_changed", "tenant_id", "user_id"],
            deleted.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(("acme", "alice", true, true), (deleted.GetProperty("tenant_id").GetString(), deleted.GetProperty("user_id").GetString(),
            deleted.GetProperty("audit_kept").GetBoolean(), deleted.GetProperty("audited").GetBoolean()));

        var archive = EventArchive.ReadLines((await _host.Services.GetRequiredService<IArchiveStore>().ReadAsync("archive/acme/2026/05/17.jsonl.gz"))!);
        Assert.Equal(["old-bob"], archive.Select(l => l.EventId));
        foreach (var date in new[] { "2026-05-17", "2026-05-20" })
        {
            var (_, rollups) = await _host.Client.GetJsonAsync($"api/rollups?tenant_id=acme&granularity=day&from={date}&to={date}");
            Assert.DoesNotContain("alice", rollups.ToString(), StringComparison.Ordinal);
            Assert.NotEmpty(rollups.GetProperty("rows").EnumerateArray());
            Assert.DoesNotContain("alice", await ReportCsvAsync(date.Replace('-', '/')), StringComparison.Ordinal);
        }

        using var revoked = _host.CreateClient(aliceKey);
        Assert.Equal(401, (await revoked.GetJsonAsync("api/users/alice/usage?from=2026-05-20&to=2026-05-21")).Status);
        using (var after = JsonDocument.Parse(await _host.Client.GetStringAsync("api/users/alice/export?tenant_id=acme")))
        {
            Assert.Equal(0, after.RootElement.GetProperty("event_count").GetInt32());
            Assert.Empty(after.RootElement.GetProperty("budgets").GetProperty("states").EnumerateArray());
            Assert.Empty(after.RootElement.GetProperty("budgets").GetProperty("reservations").EnumerateArray());
            Assert.Empty(after.RootElement.GetProperty("api_keys").EnumerateArray());
            Assert.Empty(after.RootElement.GetProperty("alerts").EnumerateArray());
        }

        var (_, bob) = await _host.Client.GetJsonAsync("api/users/bob/usage?tenant_id=acme&from=2026-05-20&to=2026-05-21");
        Assert.Equal(1, bob.GetProperty("total").GetProperty("events").GetInt64());
        var (_, log) = await _host.Client.GetJsonAsync("api/audit?tenant_id=acme&user_id=alice");
        var actions = log.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("action").GetString()).ToList();
        Assert.Contains("gdpr.delete", actions);
        Assert.Contains("key.revoke", actions);
    }
}
