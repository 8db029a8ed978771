using System.Net;
using System.Text.Json;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Budgets;

/// <summary>
/// The budgets API through real Kestrel and Azurite. Hand-computed figures with gpt-4o-mini list prices ($0.15 in,
/// $0.60 out per million tokens): 1,000 input + 1,000 max output = $0.00075 worst case; a call of 1,000 input +
/// 500 output = $0.00045.
/// </summary>
public sealed class BudgetsApiTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 6, 10, 12, 0, 0, TimeSpan.Zero);
    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LlmCostTestHost.StartAsync(o => o.Time = new FakeTimeProvider(Now));

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private async Task<string> CreateAsync(object body)
    {
        var (status, created) = await _host.Client.PostAsync("api/budgets", body);
        Assert.Equal(201, status);
        return created.GetProperty("budget_id").GetString()!;
    }

    private static object Authorize(string user, string tenant = "acme") => new
    {
        tenant_id = tenant, user_id = user, provider = "openai", model = "gpt-4o-mini", input_tokens = 1000, max_tokens = 1000,
    };

    private Task<(int Status, JsonElement Body)> RecordAsync(string eventId, string user, string? reservationId) =>
        _host.Client.PostAsync("api/usage", new
        {
            event_id = eventId, tenant_id = "acme", user_id = user, provider = "openai", model = "gpt-4o-mini",
            timestamp = "2026-06-10T11:59:00Z", usage = new { input_tokens = 1000, output_tokens = 500 }, reservation_id = reservationId,
        });

    [Fact]
    public async Task A_budget_is_created_read_changed_deleted_and_every_change_is_audited()
    {
        var (status, created) = await _host.Client.PostAsync("api/budgets", new
        {
            tenant_id = "acme", scope = "team", scope_id = "red", amount_usd = "12.50", period = "monthly", mode = "soft",
            timezone = "Europe/Berlin", thresholds = new[] { "80", "100" },
        });
        Assert.Equal(201, status);
        var id = created.GetProperty("budget_id").GetString()!;
        Assert.Equal(12.50m, created.Money("amount_usd"));
        Assert.Equal("Europe/Berlin", created.GetProperty("timezone").GetString());

        var (getStatus, read) = await _host.Client.GetJsonAsync($"api/budgets/{id}");
        Assert.Equal(200, getStatus);
        Assert.Equal("monthly", read.GetProperty("period").GetString());
        var (_, list) = await _host.Client.GetJsonAsync("api/budgets?tenant_id=acme");
        Assert.Equal(id, list.GetProperty("budgets")[0].GetProperty("budget_id").GetString());

        using var put = await _host.Client.PutAsync(new Uri($"api/budgets/{id}", UriKind.Relative), JsonContent(new
        {
            scope = "team", scope_id = "red", amount_usd = "20", period = "monthly", mode = "hard",
        }));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await _host.Client.DeleteAsync(new Uri($"api/budgets/{id}", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _host.Client.GetAsync(new Uri($"api/budgets/{id}", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _host.Client.GetAsync(new Uri("api/budgets/not-a-budget/status", UriKind.Relative))).StatusCode);

        var (auditStatus, audit) = await _host.Client.GetJsonAsync("api/audit?tenant_id=acme");
        Assert.Equal(200, auditStatus);
        var actions = audit.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("action").GetString()).ToList();
        // Same (fake) instant for all three: compare as a set.
        Assert.Equal(["budget.create", "budget.delete", "budget.update"], actions.Order(StringComparer.Ordinal).ToList());
        Assert.Equal("20", audit.GetProperty("entries").EnumerateArray().Single(e => e.GetProperty("action").GetString() == "budget.update").GetProperty("details").GetProperty("amount_usd").GetString());
    }

    [Theory]
    [InlineData("{\"tenant_id\":\"acme\",\"scope\":\"user\",\"scope_id\":\"bob\",\"amount_usd\":\"1\",\"period\":\"fortnightly\",\"mode\":\"hard\"}", "period")]
    [InlineData("{\"tenant_id\":\"acme\",\"scope\":\"user\",\"scope_id\":\"bob\",\"amount_usd\":\"-1\",\"period\":\"daily\",\"mode\":\"hard\"}", "amount_usd")]
    [InlineData("{\"tenant_id\":\"acme\",\"scope\":\"user\",\"scope_id\":\"bob\",\"amount_usd\":\"1\",\"period\":\"daily\",\"mode\":\"hard\",\"timezone\":\"Mars/Base\"}", "timezone")]
    [InlineData("{\"tenant_id\":\"acme\",\"scope\":\"user\",\"scope_id\":\"b/ob\",\"amount_usd\":\"1\",\"period\":\"daily\",\"mode\":\"hard\"}", "scope_id")]
    public async Task A_bad_budget_is_a_400_naming_the_field(string json, string field)
    {
        var (status, problem) = await _host.Client.PostRawAsync("api/budgets", json);

        Assert.Equal(400, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        var (_, list) = await _host.Client.GetJsonAsync("api/budgets?tenant_id=acme");
        Assert.Equal(0, list.GetProperty("budgets").GetArrayLength());
    }

    [Fact]
    public async Task An_authorisation_without_max_tokens_is_a_400_and_malformed_json_too()
    {
        var (status, problem) = await _host.Client.PostAsync("api/budgets/authorize", new { tenant_id = "acme", user_id = "bob", provider = "openai", model = "gpt-4o-mini", input_tokens = 10 });
        Assert.Equal(400, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("max_tokens", out _));

        var (malformed, _) = await _host.Client.PostRawAsync("api/budgets/authorize", "{\"tenant_id\":");
        Assert.Equal(400, malformed);
    }

    [Theory]
    [InlineData("[null]")]
    [InlineData("[{\"role\":\"user\"}]")]
    [InlineData("[{\"content\":\"Hello\"}]")]
    public async Task An_authorisation_with_a_null_or_incomplete_message_is_a_400_naming_messages(string messages)
    {
        var (status, problem) = await _host.Client.PostRawAsync("api/budgets/authorize",
            "{\"tenant_id\":\"acme\",\"user_id\":\"bob\",\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"max_tokens\":10,\"messages\":" + messages + "}");

        Assert.Equal(400, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("messages", out _), problem.ToString());
    }

    [Fact]
    public async Task Hard_budget_admits_two_worst_cases_then_denies_and_usage_settles_the_reservation()
    {
        var id = await CreateAsync(new { tenant_id = "acme", scope = "user", scope_id = "bob", amount_usd = "0.0015", period = "daily", mode = "hard" });

        var (_, first) = await _host.Client.PostAsync("api/budgets/authorize", Authorize("bob"));
        var (_, second) = await _host.Client.PostAsync("api/budgets/authorize", Authorize("bob"));
        var (thirdStatus, third) = await _host.Client.PostAsync("api/budgets/authorize", Authorize("bob"));

        Assert.Equal("allow", first.GetProperty("decision").GetString());
        Assert.Equal(0.00075m, first.Money("reserved_usd"));
        Assert.Equal(0.00075m, first.GetProperty("budgets")[0].Money("remaining_usd"));
        Assert.Equal("allow", second.GetProperty("decision").GetString());
        Assert.Equal(200, thirdStatus);
        Assert.Equal("deny", third.GetProperty("decision").GetString());
        Assert.Equal(id, third.GetProperty("budget_id").GetString());
        Assert.Contains(id, third.GetProperty("reason").GetString());

        var (recorded, _) = await RecordAsync("bob-1", "bob", first.GetProperty("reservation_id").GetString());
        Assert.Equal(200, recorded);
        var (_, status) = await _host.Client.GetJsonAsync($"api/budgets/{id}/status");
        Assert.Equal(0.00045m, status.Money("spent_usd"));
        Assert.Equal(0.00075m, status.Money("reserved_usd"));
        Assert.Equal(0.0003m, status.Money("remaining_usd"));
        Assert.Equal(1, status.GetProperty("active_reservations").GetInt32());

        // The same event again (a client retry) changes nothing.
        await RecordAsync("bob-1", "bob", first.GetProperty("reservation_id").GetString());
        var (_, again) = await _host.Client.GetJsonAsync($"api/budgets/{id}/status");
        Assert.Equal(0.00045m, again.Money("spent_usd"));
        Assert.Equal(1, again.GetProperty("event_count").GetInt64());
    }

    [Fact]
    public async Task Crossed_thresholds_are_visible_until_dispatched()
    {
        var id = await CreateAsync(new { tenant_id = "acme", scope = "user", scope_id = "cara", amount_usd = "0.001", period = "daily", mode = "soft", alert_on_projected_overrun = false });

        await RecordAsync("cara-1", "cara", null);
        await RecordAsync("cara-2", "cara", null);

        // $0.0009 of $0.001 = 90 %: 50, 75 and 90 fired, once each.
        var (status, pending) = await _host.Client.GetJsonAsync("api/budgets/alerts?tenant_id=acme");
        Assert.Equal(200, status);
        var alerts = pending.GetProperty("alerts").EnumerateArray().ToList();
        Assert.Equal(["50", "75", "90"], alerts.Select(a => a.GetProperty("threshold_percent").GetString()).Order().ToList());
        Assert.All(alerts, a => Assert.Equal(id, a.GetProperty("budget_id").GetString()));
        Assert.All(alerts, a => Assert.StartsWith($"budget:{id}:cara:20260610T0000Z:", a.GetProperty("alert_id").GetString()));
    }

    [Fact]
    public async Task A_frozen_user_is_denied_until_unfrozen()
    {
        await CreateAsync(new { tenant_id = "acme", scope = "user", scope_id = "dan", amount_usd = "10", period = "daily", mode = "hard" });

        var (frozen, _) = await _host.Client.PostAsync("api/budgets/freeze", new { tenant_id = "acme", scope = "user", scope_id = "dan", reason = "runaway loop" });
        var (_, denied) = await _host.Client.PostAsync("api/budgets/authorize", Authorize("dan"));
        var (_, freezes) = await _host.Client.GetJsonAsync("api/budgets/freezes?tenant_id=acme");
        var (unfrozen, _) = await _host.Client.PostAsync("api/budgets/unfreeze", new { tenant_id = "acme", scope = "user", scope_id = "dan" });
        var (_, allowed) = await _host.Client.PostAsync("api/budgets/authorize", Authorize("dan"));

        Assert.Equal(200, frozen);
        Assert.Equal("deny", denied.GetProperty("decision").GetString());
        Assert.Equal("user 'dan' is frozen: runaway loop", denied.GetProperty("reason").GetString());
        Assert.Equal("dan", freezes.GetProperty("freezes")[0].GetProperty("scope_id").GetString());
        Assert.Equal(200, unfrozen);
        Assert.Equal("allow", allowed.GetProperty("decision").GetString());
        var (_, audit) = await _host.Client.GetJsonAsync("api/audit?tenant_id=acme");
        var actions = audit.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("action").GetString()).ToList();
        Assert.Contains("freeze", actions);
        Assert.Contains("unfreeze", actions);
    }

    [Fact]
    public async Task Keys_of_another_tenant_can_neither_authorise_nor_read()
    {
        var id = await CreateAsync(new { tenant_id = "acme", scope = "user", scope_id = "eve", amount_usd = "1", period = "daily", mode = "hard" });
        using var otherIngest = _host.CreateClient(await _host.CreateKeyAsync("ingest", "globex"));
        using var otherReader = _host.CreateClient(await _host.CreateKeyAsync("reader", "globex"));
        using var ownIngest = _host.CreateClient(await _host.CreateKeyAsync("ingest", "acme"));

        var (forbidden, _) = await otherIngest.PostAsync("api/budgets/authorize", Authorize("eve"));
        var (hidden, _) = await otherReader.GetJsonAsync($"api/budgets/{id}/status");
        var (notAdmin, _) = await ownIngest.PostAsync("api/budgets", new { tenant_id = "acme", scope = "user", scope_id = "x", amount_usd = "1", period = "daily", mode = "hard" });
        var (own, decision) = await ownIngest.PostAsync("api/budgets/authorize", new { user_id = "eve", provider = "openai", model = "gpt-4o-mini", input_tokens = 1000, max_tokens = 1000 });

        Assert.Equal(403, forbidden);
        Assert.Equal(404, hidden);
        Assert.Equal(403, notAdmin);
        Assert.Equal(200, own);
        Assert.Equal(id, decision.GetProperty("budgets")[0].GetProperty("budget_id").GetString());
    }

    [Fact]
    public async Task A_profile_gives_every_new_user_their_own_budgets()
    {
        var (applied, profile) = await _host.Client.PostAsync("api/budgets/profiles", new { tenant_id = "acme", profile = "development" });
        Assert.Equal(200, applied);
        Assert.Equal(2, profile.GetProperty("budgets").GetArrayLength());

        var (_, newcomer) = await _host.Client.PostAsync("api/budgets/authorize", Authorize("newcomer"));

        var budgets = newcomer.GetProperty("budgets").EnumerateArray().ToList();
        Assert.Equal(2, budgets.Count);
        Assert.All(budgets, b => Assert.Equal("newcomer", b.GetProperty("subject").GetString()));
        // $5.00 daily minus this request's $0.00075 worst case.
        Assert.Contains(budgets, b => b.TryGetProperty("period_key", out _) && b.Money("remaining_usd") == 4.99925m);
    }

    private static StringContent JsonContent(object body) =>
        new(JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json");
}
