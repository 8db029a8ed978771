using System.Globalization;
using System.Text.Json;
using LlmCost.Core.Alerts;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace LlmCost.Functions.Tests.Dashboard;

/// <summary>
/// The real app on Kestrel (loopback) against Azurite, with three days of usage recorded through the API (four users,
/// two teams, three providers, an unpriced model, failed calls), a budget, a report and alerts; and one headless
/// Chromium (Debian's package, driven by Selenium through Debian's chromedriver) shared by the tests of a class.
/// </summary>
public sealed class DashboardFixture : IAsyncLifetime
{
    public const string Tenant = "dash-acme";

    public LlmCostTestHost Host { get; private set; } = null!;

    public ChromeDriver Driver { get; private set; } = null!;

    /// <summary>The three UTC days with events: today-3, today-2, today-1.</summary>
    public DateOnly[] Days { get; } = Enumerable.Range(1, 3).Select(d => DateOnly.FromDateTime(DateTime.UtcNow).AddDays(-4 + d)).ToArray();

    public string AliceReaderKey { get; private set; } = null!;

    public string TenantBudgetId { get; private set; } = null!;

    public string ReportPath { get; private set; } = null!;

    public string ReportDayCostUsd { get; private set; } = null!;

    public string AnomalyAlertId { get; } = "dash-anomaly-1";

    public string ThresholdAlertId { get; } = "dash-threshold-1";

    public static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public async Task InitializeAsync()
    {
        Host = await LlmCostTestHost.StartAsync();
        await SeedAsync();
        Driver = StartBrowser();
    }

    public async Task DisposeAsync()
    {
        Driver?.Quit();
        Driver?.Dispose();
        await Host.DisposeAsync();
    }

    private async Task SeedAsync()
    {
        (string User, string? Team)[] users = [("alice", "red"), ("bob", "red"), ("carol", "blue"), ("dave", null)];
        (string Provider, string Model)[] models = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-20250514"), ("acme-labs", "mystery-model")];
        // Budgets first, so they count the events recorded after them.
        (int status, JsonElement body) = await Host.Client.PostAsync("api/budgets", new
        {
            tenant_id = Tenant, scope = "tenant", scope_id = Tenant, name = "tenant monthly", amount_usd = "2.50", period = "monthly", mode = "soft",
            thresholds = new[] { 50, 80, 100 },
        });
        Assert.True(status == 201, $"budget: {status} {body}");
        TenantBudgetId = body.GetProperty("budget_id").GetString()!;
        (status, body) = await Host.Client.PostAsync("api/budgets", new
        {
            tenant_id = Tenant, scope = "user", scope_id = "bob", name = "bob daily", amount_usd = "0.05", period = "daily", mode = "soft",
        });
        Assert.True(status == 201, $"budget: {status} {body}");

        var events = new List<object>();
        int n = 0;
        foreach (DateOnly day in Days)
        {
            for (int hour = 8; hour < 20; hour += 3)
            {
                foreach (var (user, team) in users)
                {
                    var (provider, model) = models[(n + hour) % models.Length];
                    n++;
                    events.Add(new
                    {
                        event_id = $"dash-{n:D4}",
                        tenant_id = Tenant,
                        user_id = user,
                        team_id = team,
                        app = n % 2 == 0 ? "chat" : "search",
                        provider,
                        model,
                        timestamp = $"{Day(day)}T{hour:D2}:{n % 60:D2}:00Z",
                        status = n % 9 == 0 ? "error" : "success",
                        usage = new { input_tokens = 1000 + (37 * n), cache_read_tokens = n % 3 == 0 ? 200 : 0, output_tokens = 150 + (11 * n) },
                    });
                }
            }
        }

        (status, body) = await Host.Client.PostAsync("api/usage", new { events });
        Assert.True(status == 200, $"recording answered {status}: {body}");
        Assert.Equal(events.Count, body.GetProperty("recorded").GetInt32());

        AliceReaderKey = await Host.CreateKeyAsync("reader", Tenant, "alice");

        (status, body) = await Host.Client.PostAsync("api/reports", new { tenant_id = Tenant, period = "day", date = Day(Days[1]) });
        Assert.True(status == 201, $"report: {status} {body}");
        ReportDayCostUsd = body.GetProperty("totals").GetProperty("cost_usd").GetString()!;
        ReportPath = body.GetProperty("files")[0].GetProperty("path").GetString()!;

        // Alerts as the anomaly detector and the budget module store them (their timers do not run in tests).
        var alerts = Host.Services.GetRequiredService<IAlertStore>();
        DateTimeOffset at = new(Days[2].ToDateTime(new TimeOnly(18, 0)), TimeSpan.Zero);
        Assert.True(await alerts.AddIfAbsentAsync(new Alert
        {
            AlertId = AnomalyAlertId, Kind = AlertKinds.CostAnomaly, TenantId = Tenant, Scope = "user", ScopeId = "carol", CreatedAt = at,
            Message = "carol's cost this hour is 9.1x the usual",
            Details = new Dictionary<string, string> { ["window"] = "h" + Days[2].ToString("yyyyMMdd", CultureInfo.InvariantCulture) + "17", ["observed"] = "0.91", ["baseline_median"] = "0.1", ["baseline_mad"] = "0.02", ["z_score"] = "27.3" },
        }));
        Assert.True(await alerts.AddIfAbsentAsync(new Alert
        {
            AlertId = ThresholdAlertId, Kind = AlertKinds.BudgetThreshold, TenantId = Tenant, Scope = "tenant", ScopeId = Tenant, CreatedAt = at.AddMinutes(5),
            BudgetId = TenantBudgetId, ThresholdPercent = 50m, Message = "tenant monthly passed 50% of $2.50",
        }));
    }

    /// <summary>Debian's chromium and chromedriver (the test hook installs them); a clear failure when they are missing.</summary>
    private static ChromeDriver StartBrowser()
    {
        string chromium = Environment.GetEnvironmentVariable("LLMCOST_CHROMIUM") is { Length: > 0 } c ? c : "/usr/bin/chromium";
        string driver = Environment.GetEnvironmentVariable("LLMCOST_CHROMEDRIVER") is { Length: > 0 } d ? d : "/usr/bin/chromedriver";
        if (!File.Exists(chromium) || !File.Exists(driver))
        {
            throw new InvalidOperationException(
                $"the browser tests need Debian's chromium and chromedriver ({chromium}, {driver}): run ./test.sh (its hook installs them as root) or apt-get install chromium chromium-driver");
        }

        var options = new ChromeOptions { BinaryLocation = chromium };
        // --no-sandbox: the suite may run as root in a container, where Chromium's sandbox cannot start.
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1100",
            "--no-first-run", "--disable-extensions", "--disable-background-networking", "--lang=en-US");
        options.SetLoggingPreference(LogType.Browser, LogLevel.All);
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(driver)!, Path.GetFileName(driver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var browser = new ChromeDriver(service, options, TimeSpan.FromSeconds(120));
        browser.Manage().Timeouts().PageLoad = TimeSpan.FromSeconds(60);
        browser.Manage().Timeouts().AsynchronousJavaScript = TimeSpan.FromSeconds(60);
        return browser;
    }
}
