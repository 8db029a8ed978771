using System.Text;
using System.Text.Json;
using LlmCost.Core.Reports;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Pricing;

/// <summary>
/// currency=… on usage queries and budget status, from dated rates in configuration: the answer converts with the
/// newest rate on or before the day it is about and says which; an unconfigured or stale currency is a 400 naming
/// the parameter. 1,000,000 gpt-4o input tokens = 2.50 USD.
/// </summary>
public sealed class CurrencyApiTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2025, 3, 15, 12, 0, 0, TimeSpan.Zero);
    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LlmCostTestHost.StartAsync(o =>
    {
        o.Time = new FakeTimeProvider(Now);
        o.Settings["LlmCost:Currency:Rates:EUR:2025-03-10"] = "0.90";
        o.Settings["LlmCost:Currency:Rates:EUR:2025-03-14"] = "0.9234";
        o.Settings["LlmCost:Currency:Rates:JPY:2025-03-14"] = "148.7";
        o.Settings["LlmCost:Currency:Rates:CNY:2025-01-01"] = "7.2"; // too old for March (MaxRateAgeDays 7)
    });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private async Task RecordAsync()
    {
        for (int i = 0; i < 2; i++)
        {
            (int status, _) = await _host.Client.PostAsync("api/usage", new
            {
                event_id = $"c{i}", tenant_id = "fx", user_id = "u1", provider = "openai", model = "gpt-4o", timestamp = $"2025-03-1{3 + i}T10:00:00Z",
                usage = new { input_tokens = 1_000_000, output_tokens = 0 },
            });
            Assert.Equal(200, status);
        }
    }

    [Fact]
    public async Task UsageIsConvertedWithTheNamedRate()
    {
        await RecordAsync();
        (int status, JsonElement body) = await _host.Client.GetJsonAsync("api/tenants/fx/usage?from=2025-03-13&to=2025-03-15&granularity=day&currency=EUR");
        Assert.Equal(200, status);
        Assert.Equal(5m, body.GetProperty("total").Money("cost_usd"));
        Assert.Equal(4.62m, body.GetProperty("total").Money("cost")); // 5 × 0.9234 = 4.617 → 4.62
        JsonElement currency = body.GetProperty("currency");
        Assert.Equal("EUR", currency.GetProperty("code").GetString());
        Assert.Equal(0.9234m, currency.GetProperty("rate").GetDecimal());
        Assert.Equal("2025-03-14", currency.GetProperty("rate_date").GetString());
        Assert.All(body.GetProperty("series").EnumerateArray(), p => Assert.Equal(2.31m, p.Money("cost")));

        // An earlier period uses the rate of its own last day.
        (_, JsonElement early) = await _host.Client.GetJsonAsync("api/tenants/fx/usage?from=2025-03-13&to=2025-03-14&currency=eur");
        Assert.Equal("2025-03-10", early.GetProperty("currency").GetProperty("rate_date").GetString());
        Assert.Equal(2.25m, early.GetProperty("total").Money("cost"));

        (_, JsonElement yen) = await _host.Client.GetJsonAsync("api/tenants/fx/usage?from=2025-03-13&to=2025-03-15&currency=JPY");
        Assert.Equal("744", yen.GetProperty("total").GetProperty("cost").GetString()); // 743.5 → 744, no minor unit

        (_, JsonElement plain) = await _host.Client.GetJsonAsync("api/tenants/fx/usage?from=2025-03-13&to=2025-03-15");
        Assert.False(plain.TryGetProperty("currency", out _));
        Assert.False(plain.GetProperty("total").TryGetProperty("cost", out _));
    }

    [Theory]
    [InlineData("GBP")]
    [InlineData("CNY")]
    [InlineData("EURO")]
    [InlineData("%E2%82%AC")]
    public async Task AnUnusableCurrencyIsA400NamingIt(string code)
    {
        (int status, JsonElement problem) = await _host.Client.GetJsonAsync($"api/tenants/fx/usage?from=2025-03-13&to=2025-03-15&currency={code}");
        Assert.Equal(400, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("currency", out _), problem.ToString());
    }

    [Fact]
    public async Task BudgetStatusShowsItsAmountsInTheCurrency()
    {
        (int created, JsonElement budget) = await _host.Client.PostAsync("api/budgets", new { tenant_id = "fx", scope = "tenant", amount_usd = "100", period = "monthly", mode = "soft" });
        Assert.Equal(201, created);
        await RecordAsync();
        string id = budget.GetProperty("budget_id").GetString()!;
        JsonElement status = default;
        for (int attempt = 0; attempt < 100; attempt++)
        {
            (_, status) = await _host.Client.GetJsonAsync($"api/budgets/{id}/status?currency=EUR");
            if (status.Money("spent_usd") == 5m)
            {
                break;
            }

            await Task.Delay(100);
        }

        JsonElement currency = status.GetProperty("currency");
        Assert.Equal("EUR", currency.GetProperty("currency").GetProperty("code").GetString());
        Assert.Equal(92.34m, currency.Money("amount"));
        Assert.Equal(4.62m, currency.Money("spent"));
        Assert.Equal(87.72m, currency.Money("remaining")); // 95 × 0.9234 = 87.723

        (int bad, _) = await _host.Client.GetJsonAsync($"api/budgets/{id}/status?currency=GBP");
        Assert.Equal(400, bad);
    }

    [Fact]
    public async Task AReportInACurrencyStatesItsRateAndKeepsTheUsdReport()
    {
        await RecordAsync();
        (int usdStatus, JsonElement usd) = await _host.Client.PostAsync("api/reports", new { tenant_id = "fx", period = "day", date = "2025-03-14" });
        Assert.Equal(201, usdStatus);
        Assert.Equal(JsonValueKind.Null, usd.GetProperty("currency").ValueKind);
        string usdJson = await DownloadAsync(usd, "daily.json");

        (int status, JsonElement report) = await _host.Client.PostAsync("api/reports", new { tenant_id = "fx", period = "day", date = "2025-03-14", currency = "eur" });
        Assert.Equal(201, status);
        JsonElement currency = report.GetProperty("currency");
        Assert.Equal("EUR", currency.GetProperty("code").GetString());
        Assert.Equal(0.9234m, currency.GetProperty("rate").GetDecimal());
        Assert.Equal("2025-03-14", currency.GetProperty("rate_date").GetString());
        Assert.Equal(2.5m, report.GetProperty("totals").Money("cost_usd"));
        Assert.Equal(2.31m, report.GetProperty("totals").Money("cost")); // 2.5 × 0.9234 = 2.3085 → 2.31
        Assert.Equal(["daily.eur.csv", "daily.eur.json", "daily.eur.svg"], report.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("name").GetString()));

        // The blob says the same: the rate, and each cost next to the USD one.
        using JsonDocument stored = JsonDocument.Parse(await DownloadAsync(report, "daily.eur.json"));
        Assert.Equal("0.9234", stored.RootElement.GetProperty("currency").GetProperty("rate").GetString());
        Assert.Equal("2025-03-14", stored.RootElement.GetProperty("currency").GetProperty("rate_date").GetString());
        Assert.Equal("2.31", stored.RootElement.GetProperty("totals").GetProperty("cost").GetString());
        Assert.All(stored.RootElement.GetProperty("rows").EnumerateArray(), r => Assert.Equal(
            Math.Round(r.Money("cost_usd") * 0.9234m, 2, MidpointRounding.AwayFromZero), r.Money("cost")));
        string[] csv = (await DownloadAsync(report, "daily.eur.csv")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(ReportBuilder.CsvHeader + ",cost_eur", csv[0]);
        Assert.All(csv.Skip(1), line => Assert.Equal(
            Math.Round(decimal.Parse(line.Split(',')[8], System.Globalization.CultureInfo.InvariantCulture) * 0.9234m, 2, MidpointRounding.AwayFromZero),
            decimal.Parse(line.Split(',')[^1], System.Globalization.CultureInfo.InvariantCulture)));

        // USD stays the stored truth: the USD report is untouched; an erasure would rewrite both, the EUR one at its own rate.
        Assert.Equal(usdJson, await DownloadAsync(usd, "daily.json"));
        IReadOnlyList<ReportRequest> existing = await _host.Services.GetRequiredService<ReportService>().ExistingReportsCoveringAsync("fx", new DateOnly(2025, 3, 14));
        Assert.Contains(existing, r => r.Period == ReportPeriod.Day && r.Currency is null);
        Assert.Contains(existing, r => r.Period == ReportPeriod.Day && r.Currency == new ReportCurrency("EUR", 0.9234m, new DateOnly(2025, 3, 14)));

        // A month still running converts at today's rate (the newest on or before it).
        (_, JsonElement month) = await _host.Client.PostAsync("api/reports", new { tenant_id = "fx", period = "month", date = "2025-03-01", currency = "JPY" });
        Assert.Equal("2025-03-14", month.GetProperty("currency").GetProperty("rate_date").GetString());
        Assert.Equal(744m, month.GetProperty("totals").Money("cost")); // 5 × 148.7 = 743.5 → 744 (no minor unit)

        foreach (string bad in new[] { "CNY", "GBP", "EURO" })
        {
            (int refused, JsonElement problem) = await _host.Client.PostAsync("api/reports", new { tenant_id = "fx", period = "day", date = "2025-03-14", currency = bad });
            Assert.Equal(400, refused);
            Assert.True(problem.GetProperty("errors").TryGetProperty("currency", out _), problem.ToString());
        }
    }

    private async Task<string> DownloadAsync(JsonElement report, string name)
    {
        string url = report.GetProperty("files").EnumerateArray().Single(f => f.GetProperty("name").GetString() == name).GetProperty("download_url").GetString()!;
        return Encoding.UTF8.GetString(await _host.Client.GetByteArrayAsync(new Uri(url)));
    }
}
