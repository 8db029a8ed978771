using System.Globalization;
using System.Text.Json;
using LlmCost.Functions.Apis.Dashboard;
using LlmCost.Functions.Tests.Infrastructure;
using OpenQA.Selenium;
using static LlmCost.Functions.Tests.Dashboard.DashboardFixture;

namespace LlmCost.Functions.Tests.Dashboard;

/// <summary>
/// The dashboard in a real headless Chromium against the real app on Azurite: every panel renders, the figures on
/// the page are the API's (and the report's) to the cent, filters and drill-down work, a reader bound to one user
/// sees only that user, a wrong key is refused, and the page runs under its Content-Security-Policy.
/// Set LLMCOST_DASHBOARD_SCREENSHOTS to a folder to keep PNGs of the main views (docs/dashboard/ holds them).
/// </summary>
public sealed class DashboardBrowserTests(DashboardFixture fixture) : IClassFixture<DashboardFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private IWebDriver Browser => fixture.Driver;

    private string Range(string by, DateOnly from, DateOnly to, string extra = "") =>
        $"tenant={Tenant}&preset=custom&from={Day(from)}&to={Day(to)}&by={by}&granularity=day&tz=UTC{extra}";

    [Fact]
    public async Task Every_panel_renders_and_its_totals_equal_the_api_and_the_report_to_the_cent()
    {
        OpenAs(LlmCostTestHost.AdminKey, Range("provider", fixture.Days[0], fixture.Days[2]));
        JsonElement usage = await ApiAsync($"api/tenants/{Tenant}/usage?from={Day(fixture.Days[0])}&to={Day(fixture.Days[2].AddDays(1))}");
        JsonElement total = usage.GetProperty("total");
        string cost = total.GetProperty("cost_usd").GetString()!;

        // Overview: exact API strings behind every money figure, shown rounded; unpriced calls as a count.
        Assert.Equal(cost, Money("[data-tile=range] .money"));
        Assert.Equal(Display(cost), Text("[data-tile=range] .money"));
        Assert.Equal(total.GetProperty("events").GetInt64().ToString("N0", CultureInfo.InvariantCulture), Text("[data-tile=requests] .value"));
        long unpriced = total.GetProperty("unpriced_events").GetInt64();
        Assert.True(unpriced > 0);
        Assert.Equal(unpriced.ToString(CultureInfo.InvariantCulture), Text("[data-tile=unpriced] .value"));
        Assert.DoesNotContain("$", Text("[data-tile=unpriced]"), StringComparison.Ordinal);
        foreach (string tile in new[] { "today", "month", "forecast", "tokens", "errors", "cache", "avg" })
        {
            Assert.NotEmpty(Text($"[data-tile={tile}] .value"));
        }

        Assert.Equal(
            (decimal.Parse(cost, CultureInfo.InvariantCulture) / total.GetProperty("events").GetInt64()).ToString("0.000000", CultureInfo.InvariantCulture),
            Money("[data-tile=avg] .money"));
        // The forecast tile reads the monthly tenant budget's status.
        JsonElement budgetStatus = await ApiAsync($"api/budgets/{fixture.TenantBudgetId}/status");
        if (budgetStatus.TryGetProperty("forecast_usd", out JsonElement forecast) && forecast.ValueKind == JsonValueKind.String)
        {
            // A projection moves with the clock between the page's read and this one: equal to the cent shown.
            Assert.Equal(Cents(forecast.GetString()!), Cents(Money("[data-tile=forecast] .money")));
        }
        else
        {
            Assert.Equal("–", Text("[data-tile=forecast] .value"));
        }

        // Breakdown: each row is the API's group, the footer the API's total, and the rows add up to it exactly.
        JsonElement breakdown = await ApiAsync($"api/usage/breakdown?tenant_id={Tenant}&from={Day(fixture.Days[0])}&to={Day(fixture.Days[2].AddDays(1))}&by=provider");
        Assert.Equal(cost, breakdown.GetProperty("total").GetProperty("cost_usd").GetString());
        Assert.Equal(cost, Money("#breakdown-table [data-total=cost] .money"));
        var rows = Browser.FindElements(By.CssSelector("#breakdown-table tbody tr"));
        Assert.Equal(breakdown.GetProperty("groups").GetArrayLength(), rows.Count);
        foreach (JsonElement group in breakdown.GetProperty("groups").EnumerateArray())
        {
            IWebElement row = Browser.FindElement(By.CssSelector($"#breakdown-table tbody tr[data-key='{group.GetProperty("key").GetString()}']"));
            Assert.Equal(group.GetProperty("totals").GetProperty("cost_usd").GetString(), row.FindElement(By.CssSelector(".money")).GetAttribute("data-usd"));
        }

        Assert.Equal(decimal.Parse(cost, CultureInfo.InvariantCulture), rows.Sum(r => decimal.Parse(r.FindElement(By.CssSelector(".money")).GetAttribute("data-usd")!, CultureInfo.InvariantCulture)));

        // Cost over time: one stacked bar per day, one dataset per provider.
        Assert.Equal("3", Browser.FindElement(By.Id("chart")).GetAttribute("data-periods"));
        Assert.Equal(rows.Count.ToString(CultureInfo.InvariantCulture), Browser.FindElement(By.Id("chart")).GetAttribute("data-groups"));
        Assert.Contains("UTC", Text("#timeline-caption"), StringComparison.Ordinal);

        // Budgets, alerts, anomalies, reports.
        IWebElement budget = Browser.FindElement(By.CssSelector($"#budgets-table tr[data-budget='{fixture.TenantBudgetId}']"));
        Assert.Equal(budgetStatus.GetProperty("spent_usd").GetString(), budget.FindElement(By.CssSelector("td .money")).GetAttribute("data-usd"));
        Assert.Equal(2, Browser.FindElements(By.CssSelector("#budgets-table tbody tr")).Count);
        Assert.Single(Browser.FindElements(By.CssSelector($"#alerts-list li[data-alert='{fixture.ThresholdAlertId}']")));
        IWebElement anomaly = Browser.FindElement(By.CssSelector($"#anomalies-table tr[data-anomaly='{fixture.AnomalyAlertId}']"));
        Assert.Contains("0.1", anomaly.Text, StringComparison.Ordinal); // its baseline
        Assert.Single(Browser.FindElements(By.CssSelector($"#reports-list li[data-report='{fixture.ReportPath}']")));
        Screenshot("dashboard-overview");

        // The report's day, on the page, to the cent.
        OpenAs(LlmCostTestHost.AdminKey, Range("model", fixture.Days[1], fixture.Days[1]));
        Assert.Equal(Cents(fixture.ReportDayCostUsd), Cents(Money("[data-tile=range] .money")));
        Assert.Equal(Cents(fixture.ReportDayCostUsd), Cents(Money("#breakdown-table [data-total=cost] .money")));
    }

    [Fact]
    public async Task A_filter_and_a_drill_down_reach_the_request_log_with_server_side_totals()
    {
        DateOnly from = fixture.Days[0], to = fixture.Days[2];
        OpenAs(LlmCostTestHost.AdminKey, Range("provider", from, to));

        Reload(() => Click("#breakdown-table tbody tr[data-key='openai']"));
        Assert.Contains("provider=openai", Browser.Url, StringComparison.Ordinal);
        Assert.Contains("by=model", Browser.Url, StringComparison.Ordinal);
        JsonElement openai = await ApiAsync($"api/usage/breakdown?tenant_id={Tenant}&from={Day(from)}&to={Day(to.AddDays(1))}&provider=openai&by=model");
        Assert.Equal(openai.GetProperty("total").GetProperty("cost_usd").GetString(), Money("[data-tile=range] .money"));
        Assert.Equal(["openai/gpt-4o", "openai/gpt-4o-mini"], Browser.FindElements(By.CssSelector("#breakdown-table tbody tr")).Select(r => r.GetAttribute("data-key")).Order(StringComparer.Ordinal));

        Reload(() => Click("#breakdown-table tbody tr[data-key='openai/gpt-4o']"));
        Assert.Contains("model=gpt-4o", Browser.Url, StringComparison.Ordinal);
        JsonElement users = await ApiAsync($"api/usage/breakdown?tenant_id={Tenant}&from={Day(from)}&to={Day(to.AddDays(1))}&provider=openai&model=gpt-4o&by=user");
        Assert.Equal(users.GetProperty("total").GetProperty("cost_usd").GetString(), Money("#breakdown-table [data-total=cost] .money"));

        // A filter typed into the form applies to every panel and lands in the address.
        Reload(() =>
        {
            IWebElement team = Browser.FindElement(By.Id("f-team"));
            team.Clear();
            team.SendKeys("red");
            Click("#filters button[type=submit]");
        });
        Assert.Contains("team=red", Browser.Url, StringComparison.Ordinal);
        JsonElement red = await ApiAsync($"api/usage/breakdown?tenant_id={Tenant}&from={Day(from)}&to={Day(to.AddDays(1))}&provider=openai&model=gpt-4o&team_id=red&by=user");
        Assert.Equal(red.GetProperty("total").GetProperty("cost_usd").GetString(), Money("[data-tile=range] .money"));
        Assert.All(Browser.FindElements(By.CssSelector("#breakdown-table tbody tr")), r => Assert.Contains(r.GetAttribute("data-key"), new[] { "alice", "bob" }));

        // A user opens the request log: every event of the range, with the API's own totals.
        Click("#breakdown-table tbody tr[data-key='alice']");
        Until(() => Browser.FindElement(By.Id("events")).Displayed && Browser.FindElements(By.CssSelector("#events-table tbody tr")).Count > 0);
        JsonElement alice = await ApiAsync($"api/users/alice/usage?tenant_id={Tenant}&from={Day(from)}&to={Day(to.AddDays(1))}");
        Assert.Equal(alice.GetProperty("total").GetProperty("cost_usd").GetString(), Money("[data-tile=events-cost] .money"));
        Assert.Equal(alice.GetProperty("total").GetProperty("events").GetInt64(), Browser.FindElements(By.CssSelector("#events-table tbody tr")).Count);
        Screenshot("dashboard-request-log");
    }

    [Fact]
    public async Task A_reader_bound_to_one_user_sees_only_that_user()
    {
        OpenAs(fixture.AliceReaderKey, Range("user", fixture.Days[0], fixture.Days[2]));
        JsonElement alice = await ApiAsync($"api/users/alice/usage?tenant_id={Tenant}&from={Day(fixture.Days[0])}&to={Day(fixture.Days[2].AddDays(1))}");
        Assert.Equal(alice.GetProperty("total").GetProperty("cost_usd").GetString(), Money("[data-tile=range] .money"));
        Assert.Equal(["alice"], Browser.FindElements(By.CssSelector("#breakdown-table tbody tr")).Select(r => r.GetAttribute("data-key")));
        Assert.False(Browser.FindElement(By.Id("f-user")).Enabled);
        Assert.False(Browser.FindElement(By.Id("f-tenant")).Enabled);
        Assert.Contains("user alice", Text("#who"), StringComparison.Ordinal);
        string page = Browser.FindElement(By.TagName("body")).Text;
        foreach (string other in new[] { "bob", "carol", "dave" })
        {
            Assert.DoesNotContain(other, page, StringComparison.Ordinal);
        }

        // Editing the address to ask for another user changes nothing: the key decides.
        Reload(() => ((IJavaScriptExecutor)Browser).ExecuteScript($"location.hash = '{Range("user", fixture.Days[0], fixture.Days[2], "&user=bob")}'"));
        Assert.Equal(["alice"], Browser.FindElements(By.CssSelector("#breakdown-table tbody tr")).Select(r => r.GetAttribute("data-key")));
        Assert.Empty(Browser.FindElements(By.CssSelector("#budgets-table button")));
    }

    [Fact]
    public async Task Breakdowns_by_app_and_by_key_add_up_to_the_total_and_the_app_filter_narrows_every_panel()
    {
        DateOnly from = fixture.Days[0], to = fixture.Days[2];
        string range = $"from={Day(from)}&to={Day(to.AddDays(1))}";
        string cost = (await ApiAsync($"api/tenants/{Tenant}/usage?{range}")).GetProperty("total").GetProperty("cost_usd").GetString()!;

        OpenAs(LlmCostTestHost.AdminKey, Range("app", from, to));
        JsonElement apps = await ApiAsync($"api/usage/breakdown?tenant_id={Tenant}&{range}&by=app");
        Assert.Equal(cost, apps.GetProperty("total").GetProperty("cost_usd").GetString());
        Assert.Equal(cost, Money("#breakdown-table [data-total=cost] .money"));
        Assert.Equal(["chat", "search"], Browser.FindElements(By.CssSelector("#breakdown-table tbody tr")).Select(r => r.GetAttribute("data-key")).Order(StringComparer.Ordinal));
        decimal sum = 0m;
        foreach (JsonElement group in apps.GetProperty("groups").EnumerateArray())
        {
            string groupCost = group.GetProperty("totals").GetProperty("cost_usd").GetString()!;
            Assert.Equal(groupCost, Money($"#breakdown-table tbody tr[data-key='{group.GetProperty("key").GetString()}'] .money"));
            sum += decimal.Parse(groupCost, CultureInfo.InvariantCulture);
        }

        Assert.Equal(decimal.Parse(cost, CultureInfo.InvariantCulture), sum);

        // By key: the seeded calls came through the configured admin key (no key id), so they are one "(none)" group.
        Reload(() => ((IJavaScriptExecutor)Browser).ExecuteScript($"location.hash = '{Range("key", from, to)}'"));
        Assert.Equal([string.Empty], Browser.FindElements(By.CssSelector("#breakdown-table tbody tr")).Select(r => r.GetAttribute("data-key")));
        Assert.Equal(cost, Money("#breakdown-table [data-total=cost] .money"));

        // Clicking an app sets the app filter: the range tile and the model breakdown are that app's only.
        Reload(() => ((IJavaScriptExecutor)Browser).ExecuteScript($"location.hash = '{Range("app", from, to)}'"));
        Reload(() => Click("#breakdown-table tbody tr[data-key='chat']"));
        Assert.Contains("app=chat", Browser.Url, StringComparison.Ordinal);
        Assert.Contains("by=model", Browser.Url, StringComparison.Ordinal);
        JsonElement chat = await ApiAsync($"api/usage/breakdown?tenant_id={Tenant}&{range}&app=chat&by=model");
        string chatCost = chat.GetProperty("total").GetProperty("cost_usd").GetString()!;
        Assert.Equal(chatCost, Money("[data-tile=range] .money"));
        Assert.Equal(chatCost, Money("#breakdown-table [data-total=cost] .money"));
        Assert.Equal(Assert.Single(apps.GetProperty("groups").EnumerateArray(), g => g.GetProperty("key").GetString() == "chat").GetProperty("totals").GetProperty("cost_usd").GetString(), chatCost);
        Screenshot("dashboard-by-app");
    }

    [Fact]
    public async Task Calls_recorded_with_two_key_ids_break_down_by_key_to_the_cent()
    {
        // A tenant of its own, so the shared fixture's figures stay as they are. key_id is the id of the API key the
        // app called the provider with (as given to budget authorisation), recorded with each call.
        const string tenant = "dash-keys";
        DateOnly day = fixture.Days[1];
        var events = Enumerable.Range(0, 7).Select(i => new
        {
            event_id = $"key-{i}", tenant_id = tenant, user_id = "erin", key_id = i % 3 == 0 ? "k-batch" : "k-prod", provider = "openai", model = "gpt-4o",
            app = "chat", timestamp = $"{Day(day)}T1{i}:00:00Z", usage = new { input_tokens = 1000 + (17 * i), output_tokens = 100 + i },
        }).ToArray();
        (int status, JsonElement body) = await fixture.Host.Client.PostAsync("api/usage", new { events });
        Assert.True(status == 200, body.ToString());
        decimal Cost(Func<int, bool> which) => body.GetProperty("results").EnumerateArray().Where((_, i) => which(i))
            .Sum(r => decimal.Parse(r.GetProperty("cost_usd").GetString()!, CultureInfo.InvariantCulture));

        OpenAs(LlmCostTestHost.AdminKey, Range("key", day, day).Replace($"tenant={Tenant}", $"tenant={tenant}", StringComparison.Ordinal));
        JsonElement byKey = await ApiAsync($"api/usage/breakdown?tenant_id={tenant}&from={Day(day)}&to={Day(day.AddDays(1))}&by=key");
        Assert.Equal(["k-batch", "k-prod"], Browser.FindElements(By.CssSelector("#breakdown-table tbody tr")).Select(r => r.GetAttribute("data-key")).Order(StringComparer.Ordinal));
        Assert.Equal(Cost(_ => true), decimal.Parse(Money("#breakdown-table [data-total=cost] .money"), CultureInfo.InvariantCulture));
        Assert.Equal(Cost(i => i % 3 == 0), decimal.Parse(Money("#breakdown-table tbody tr[data-key='k-batch'] .money"), CultureInfo.InvariantCulture));
        Assert.Equal(Cost(i => i % 3 != 0), decimal.Parse(Money("#breakdown-table tbody tr[data-key='k-prod'] .money"), CultureInfo.InvariantCulture));
        Assert.Equal(byKey.GetProperty("total").GetProperty("cost_usd").GetString(), Money("#breakdown-table [data-total=cost] .money"));
    }

    [Fact]
    public async Task A_reader_bound_to_one_user_sees_only_that_users_apps_and_keys()
    {
        OpenAs(fixture.AliceReaderKey, Range("app", fixture.Days[0], fixture.Days[2], "&user=bob"));
        string range = $"from={Day(fixture.Days[0])}&to={Day(fixture.Days[2].AddDays(1))}";
        using HttpClient alice = fixture.Host.CreateClient(fixture.AliceReaderKey);
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, (await alice.GetAsync(new Uri($"api/usage/breakdown?{range}&by=app", UriKind.Relative))).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, (await alice.GetAsync(new Uri($"api/usage/breakdown?user_id=bob&{range}&by=key", UriKind.Relative))).StatusCode);
        using JsonDocument own = JsonDocument.Parse(await alice.GetStringAsync(new Uri($"api/usage/breakdown?user_id=alice&{range}&by=app", UriKind.Relative)));
        string aliceCost = (await ApiAsync($"api/users/alice/usage?tenant_id={Tenant}&{range}")).GetProperty("total").GetProperty("cost_usd").GetString()!;
        Assert.Equal(aliceCost, own.RootElement.GetProperty("total").GetProperty("cost_usd").GetString());
        Assert.Equal(aliceCost, Money("#breakdown-table [data-total=cost] .money"));
        Assert.Equal(aliceCost, Money("[data-tile=range] .money"));
        string page = Browser.FindElement(By.TagName("body")).Text;
        foreach (string other in new[] { "bob", "carol", "dave" })
        {
            Assert.DoesNotContain(other, page, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Days_are_counted_in_the_picked_time_zone_and_the_total_is_the_utc_total_of_the_same_instants()
    {
        // Tokyo is UTC+9: its days start at 15:00Z the day before, so the fixture's calls (08:00–17:59Z) split differently.
        DateOnly from = fixture.Days[0], to = fixture.Days[2];
        OpenAs(LlmCostTestHost.AdminKey, Range("provider", from, to).Replace("tz=UTC", "tz=Asia%2FTokyo", StringComparison.Ordinal));
        string instants = $"from={Day(from.AddDays(-1))}T15:00:00Z&to={Day(to)}T15:00:00Z";
        JsonElement tokyo = await ApiAsync($"api/usage/breakdown?tenant_id={Tenant}&{instants}&by=provider&tz=Asia/Tokyo");
        JsonElement utc = await ApiAsync($"api/tenants/{Tenant}/usage?{instants}");
        string cost = utc.GetProperty("total").GetProperty("cost_usd").GetString()!;
        Assert.Equal(cost, tokyo.GetProperty("total").GetProperty("cost_usd").GetString());
        Assert.Equal(cost, Money("[data-tile=range] .money"));
        Assert.Equal("Asia/Tokyo", tokyo.GetProperty("time_zone").GetString());
        Assert.All(tokyo.GetProperty("series").EnumerateArray(), p => Assert.EndsWith("T00:00:00+09:00", p.GetProperty("period_start").GetString()!, StringComparison.Ordinal));
        Assert.Equal("Asia/Tokyo", Text("[data-testid=timezone]"));
        Assert.Contains("Asia/Tokyo", Text("#timeline-caption"), StringComparison.Ordinal);
        Assert.Contains("Asia/Tokyo", Text("[data-tile=today] .label"), StringComparison.Ordinal);
        Assert.Equal("Asia/Tokyo", ((IJavaScriptExecutor)Browser).ExecuteScript("return document.getElementById('f-tz').value"));

        // Unknown zones and zones whose offset is not whole hours (usage is kept per UTC hour) are refused, naming tz.
        foreach (string zone in new[] { "Mars/Olympus_Mons", "Asia/Kolkata" })
        {
            (int status, JsonElement problem) = await fixture.Host.Client.GetJsonAsync($"api/usage/breakdown?tenant_id={Tenant}&{instants}&tz={Uri.EscapeDataString(zone)}");
            Assert.Equal(400, status);
            Assert.True(problem.GetProperty("errors").TryGetProperty("tz", out _), problem.ToString());
        }
    }

    [Fact]
    public void A_wrong_key_is_refused_and_nothing_is_kept()
    {
        Browser.Navigate().GoToUrl(new Uri(fixture.Host.BaseAddress, "dashboard/#" + Range("model", fixture.Days[0], fixture.Days[2])));
        ((IJavaScriptExecutor)Browser).ExecuteScript("sessionStorage.clear(); localStorage.clear();");
        Browser.Navigate().Refresh();
        SignIn("llmk_wrong.key-that-does-not-exist");
        Until(() => Browser.FindElement(By.Id("keyerror")).Displayed);
        Assert.Contains("refused", Text("#keyerror"), StringComparison.Ordinal);
        Assert.False(Browser.FindElement(By.Id("app")).Displayed);
        Assert.Null(((IJavaScriptExecutor)Browser).ExecuteScript("return sessionStorage.getItem('llmcost.dashboard.key')"));
    }

    [Fact]
    public async Task The_page_runs_under_a_strict_csp_and_never_puts_the_key_in_the_address_or_lasting_storage()
    {
        using HttpResponseMessage response = await fixture.Host.CreateClient(null).GetAsync(new Uri("dashboard/", UriKind.Relative));
        Assert.Equal(DashboardSite.ContentSecurityPolicy, string.Join(", ", response.Headers.GetValues("Content-Security-Policy")));
        Assert.Contains("script-src 'self'", DashboardSite.ContentSecurityPolicy, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe", DashboardSite.ContentSecurityPolicy, StringComparison.Ordinal);

        OpenAs(LlmCostTestHost.AdminKey, Range("team", fixture.Days[0], fixture.Days[2]));
        var js = (IJavaScriptExecutor)Browser;
        Assert.Equal(0L, js.ExecuteScript("return document.querySelectorAll('script:not([src])').length"));
        Assert.DoesNotContain(LlmCostTestHost.AdminKey, Browser.Url, StringComparison.Ordinal);
        Assert.Equal(0L, js.ExecuteScript("return localStorage.length"));
        var violations = Browser.Manage().Logs.GetLog(LogType.Browser).Where(l => l.Message.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.True(violations.Count == 0, string.Join('\n', violations.Select(v => v.Message)));
    }

    [Fact]
    public async Task An_admin_freezes_and_unfreezes_a_budget_scope_and_marks_an_alert_read()
    {
        OpenAs(LlmCostTestHost.AdminKey, Range("model", fixture.Days[0], fixture.Days[2]));
        string row = $"#budgets-table tr[data-budget='{fixture.TenantBudgetId}']";
        Until(() => Browser.FindElement(By.CssSelector($"{row} [data-action=freeze]")).Displayed);
        Click($"{row} [data-action=freeze]");
        Until(() => Browser.FindElements(By.CssSelector($"{row} [data-frozen=true]")).Count == 1);
        JsonElement freezes = await ApiAsync($"api/budgets/freezes?tenant_id={Tenant}");
        Assert.Contains(freezes.GetProperty("freezes").EnumerateArray(), f => f.GetProperty("scope").GetString() == "tenant");
        Screenshot("dashboard-budgets-frozen");
        Click($"{row} [data-action=unfreeze]");
        Until(() => Browser.FindElements(By.CssSelector($"{row} [data-frozen=false]")).Count == 1);
        Assert.Empty((await ApiAsync($"api/budgets/freezes?tenant_id={Tenant}")).GetProperty("freezes").EnumerateArray());

        string alert = $"#alerts-list li[data-alert='{fixture.AnomalyAlertId}']";
        Click($"{alert} [data-action=read]");
        Until(() => Browser.FindElement(By.CssSelector(alert)).GetAttribute("class") == "read");
        JsonElement read = await ApiAsync($"api/alerts/{fixture.AnomalyAlertId}?tenant_id={Tenant}");
        Assert.True(read.GetProperty("read").GetBoolean());
    }

    [Fact]
    public void On_a_phone_sized_screen_nothing_overflows_sideways()
    {
        Browser.Manage().Window.Size = new System.Drawing.Size(390, 844);
        try
        {
            OpenAs(LlmCostTestHost.AdminKey, Range("model", fixture.Days[0], fixture.Days[2]));
            var js = (IJavaScriptExecutor)Browser;
            long overflow = (long)js.ExecuteScript("return document.documentElement.scrollWidth - document.documentElement.clientWidth")!;
            Assert.True(overflow <= 0, $"the page is {overflow}px wider than a phone's screen");
            Assert.True(Browser.FindElement(By.Id("chart")).Size.Width <= 390);
            Screenshot("dashboard-phone");
        }
        finally
        {
            Browser.Manage().Window.Size = new System.Drawing.Size(1280, 1100);
        }
    }

    [Fact]
    public async Task The_focus_export_of_a_period_adds_up_to_the_usage_api_and_a_bound_reader_gets_only_its_user()
    {
        string range = $"from={Day(fixture.Days[0])}&to={Day(fixture.Days[2].AddDays(1))}";
        using HttpResponseMessage response = await fixture.Host.Client.GetAsync(new Uri($"api/exports/focus?tenant_id={Tenant}&{range}", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType!.MediaType);
        var (header, rows) = ReadCsv(await response.Content.ReadAsStringAsync());
        foreach (string column in new[] { "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingCurrency", "ChargePeriodStart", "ChargePeriodEnd",
                     "ChargeCategory", "ProviderName", "ServiceName", "ResourceId", "ConsumedQuantity", "ConsumedUnit", "x_UnpricedRequests" })
        {
            Assert.Contains(column, header);
        }

        int billed = header.IndexOf("BilledCost"), unpriced = header.IndexOf("x_UnpricedRequests"), user = header.IndexOf("x_UserId");
        JsonElement total = (await ApiAsync($"api/tenants/{Tenant}/usage?{range}")).GetProperty("total");
        Assert.Equal(decimal.Parse(total.GetProperty("cost_usd").GetString()!, CultureInfo.InvariantCulture), rows.Sum(r => decimal.Parse(r[billed], CultureInfo.InvariantCulture)));
        Assert.Equal(total.GetProperty("unpriced_events").GetInt64(), rows.Sum(r => long.Parse(r[unpriced], CultureInfo.InvariantCulture)));

        using HttpClient alice = fixture.Host.CreateClient(fixture.AliceReaderKey);
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, (await alice.GetAsync(new Uri($"api/exports/focus?{range}", UriKind.Relative))).StatusCode);
        var (_, own) = ReadCsv(await alice.GetStringAsync(new Uri($"api/exports/focus?user_id=alice&{range}", UriKind.Relative)));
        Assert.NotEmpty(own);
        Assert.All(own, r => Assert.Equal("alice", r[user]));
    }

    private static (List<string> Header, List<string[]> Rows) ReadCsv(string text)
    {
        using var reader = new CsvHelper.CsvReader(new StringReader(text), CultureInfo.InvariantCulture);
        reader.Read();
        reader.ReadHeader();
        var header = reader.HeaderRecord!.ToList();
        var rows = new List<string[]>();
        while (reader.Read())
        {
            rows.Add(Enumerable.Range(0, header.Count).Select(i => reader.GetField(i)!).ToArray());
        }

        return (header, rows);
    }

    // ---- helpers ----

    private void OpenAs(string key, string hash)
    {
        var js = (IJavaScriptExecutor)Browser;
        Browser.Navigate().GoToUrl(new Uri(fixture.Host.BaseAddress, "dashboard/#" + hash));
        js.ExecuteScript("sessionStorage.clear();");
        Browser.Navigate().Refresh();
        SignIn(key);
        Until(() => Browser.FindElement(By.TagName("body")).GetAttribute("data-loaded") is { Length: > 0 });
    }

    private void Click(string css)
    {
        IWebElement element = Browser.FindElement(By.CssSelector(css));
        ((IJavaScriptExecutor)Browser).ExecuteScript("arguments[0].scrollIntoView({block: 'center'})", element);
        element.Click();
    }

    private void SignIn(string key)
    {
        Until(() => Browser.FindElement(By.Id("key")).Displayed);
        Browser.FindElement(By.Id("key")).SendKeys(key);
        Click("#keyform button");
    }

    /// <summary>Does something that re-renders the page and waits until the new render finished.</summary>
    private void Reload(Action action)
    {
        string? before = Browser.FindElement(By.TagName("body")).GetAttribute("data-loaded");
        action();
        Until(() => Browser.FindElement(By.TagName("body")).GetAttribute("data-loaded") is { } now && now != before);
    }

    private void Until(Func<bool> condition)
    {
        DateTime deadline = DateTime.UtcNow + Patience;
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (condition())
                {
                    return;
                }
            }
            catch (WebDriverException ex)
            {
                last = ex;
            }

            Thread.Sleep(100);
        }

        throw new TimeoutException($"the page did not get there within {Patience.TotalSeconds} s; status: {SafeText("#status")}", last);
    }

    private string SafeText(string css)
    {
        try
        {
            return Text(css);
        }
        catch (WebDriverException)
        {
            return "(none)";
        }
    }

    private string Text(string css) => Browser.FindElement(By.CssSelector(css)).Text.Trim();

    private string Money(string css) => Browser.FindElement(By.CssSelector(css)).GetAttribute("data-usd")!;

    private async Task<JsonElement> ApiAsync(string path)
    {
        (int status, JsonElement body) = await fixture.Host.Client.GetJsonAsync(path);
        Assert.True(status == 200, $"{path}: {status} {body}");
        return body;
    }

    private static string Cents(string text) => decimal.Round(decimal.Parse(text, CultureInfo.InvariantCulture), 2, MidpointRounding.AwayFromZero).ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>How the page shows an amount: cents, or four places under a dollar, rounded half away from zero.</summary>
    private static string Display(string text)
    {
        decimal value = decimal.Parse(text, CultureInfo.InvariantCulture);
        int digits = value != 0 && Math.Abs(value) < 1 ? 4 : 2;
        return "$" + decimal.Round(value, digits, MidpointRounding.AwayFromZero).ToString(digits == 4 ? "#,##0.0000" : "#,##0.00", CultureInfo.InvariantCulture);
    }

    private void Screenshot(string name)
    {
        if (Environment.GetEnvironmentVariable("LLMCOST_DASHBOARD_SCREENSHOTS") is not { Length: > 0 } folder)
        {
            return;
        }

        Directory.CreateDirectory(folder);
        // The whole page, not only the window: resize to the document's height first.
        var js = (IJavaScriptExecutor)Browser;
        var size = Browser.Manage().Window.Size;
        long height = (long)js.ExecuteScript("return document.documentElement.scrollHeight")!;
        Browser.Manage().Window.Size = new System.Drawing.Size(size.Width, (int)Math.Min(height + 120, 6000));
        Thread.Sleep(300);
        ((ITakesScreenshot)Browser).GetScreenshot().SaveAsFile(Path.Combine(folder, name + ".png"));
        Browser.Manage().Window.Size = size;
    }
}
