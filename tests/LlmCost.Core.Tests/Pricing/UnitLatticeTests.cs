using LlmCost.Core.Alerts;
using LlmCost.Core.Anomalies;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;
using Microsoft.Extensions.Time.Testing;
using LlmCost.Tests.Shared;

namespace LlmCost.Core.Tests.Pricing;

/// <summary>The usage vector over the unit registry, and the engine rules that come from the lattice.</summary>
public sealed class UnitLatticeTests
{
    private static readonly DateTimeOffset s_at = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void TheRegistryIsGenaiPrices059UnitsAndClosedUnderJoins()
    {
        Assert.Equal(59, UsageUnits.Count);
        foreach (UsageUnit a in UsageUnits.All)
        {
            foreach (UsageUnit b in UsageUnits.All)
            {
                if (UsageUnits.AreCompatible(a, b))
                {
                    // The validator and the engine rely on every overlap being a registered unit.
                    Assert.NotNull(UsageUnits.JoinOf(a, b));
                }
            }
        }
    }

    [Fact]
    public void Vector_StoresOnlyNonZeroCounts_AndComparesByCount()
    {
        UsageUnit image = UsageUnits.Get("input_image_tokens");
        CanonicalUsage a = new CanonicalUsage { InputTokens = 100, CacheReadTokens = 0 }.With(image, 40);
        CanonicalUsage b = CanonicalUsage.From([new(UsageUnits.Get("input_tokens"), 100), new(image, 40)]);

        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.True(a.IsReported(UsageUnits.Get("cache_read_tokens")));
        Assert.False(b.IsReported(UsageUnits.Get("cache_read_tokens")));
        Assert.Equal(3, a.Units.Count); // input, image, requests
        Assert.Equal(40, a[image]);
        Assert.Equal(0, a.Get("output_video_tokens"));
    }

    [Fact]
    public void With_NeverChangesTheOriginal()
    {
        var original = new CanonicalUsage { InputTokens = 10, OutputTokens = 5 };
        CanonicalUsage copy = original with { InputTokens = 20 };
        CanonicalUsage other = original.With(UsageUnits.Get("output_tokens"), 0);

        Assert.Equal(10, original.InputTokens);
        Assert.Equal(5, original.OutputTokens);
        Assert.Equal(20, copy.InputTokens);
        Assert.Equal(0, other.OutputTokens);
    }

    [Fact]
    public void Sum_IsUnitWise_AndNoneIsItsZero()
    {
        CanonicalUsage a = new CanonicalUsage { InputTokens = 10 }.With(UsageUnits.Get("audio_seconds"), 30);
        var b = new CanonicalUsage { InputTokens = 5, OutputTokens = 2 };

        CanonicalUsage sum = a + b + CanonicalUsage.None;

        Assert.Equal(15, sum.InputTokens);
        Assert.Equal(2, sum.OutputTokens);
        Assert.Equal(30, sum.Get("audio_seconds"));
        Assert.Equal(2, sum.Requests);
    }

    [Fact]
    public void AbsentClassWithAGivenPart_IsUnpriced_NotChargedAsZero()
    {
        // output_citation_tokens without output_tokens: its tokens would fall back to output_mtok, whose count is unknown.
        CanonicalUsage usage = CanonicalUsage.From([new(UsageUnits.Get("input_tokens"), 10), new(UsageUnits.Get("output_citation_tokens"), 500)]);

        PriceQuote quote = PricingEngine.Default.Price(new PriceRequest("openai", "gpt-4o", s_at, usage));

        Assert.False(quote.Priced);
        Assert.Contains("output_tokens is missing", quote.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void UnpricedUsedClass_IsFlagged_KnownCostIsThePricedPart()
    {
        // gpt-4o prices no document pages: never a silent $0.
        CanonicalUsage usage = new CanonicalUsage { InputTokens = 1_000_000 }.With(UsageUnits.Get("input_document_pages"), 3);

        PriceQuote quote = PricingEngine.Default.Price(new PriceRequest("openai", "gpt-4o", s_at, usage));

        Assert.False(quote.Priced);
        Assert.Equal(["input_document_pages"], quote.UnpricedClasses);
        Assert.Equal(2.5m, quote.KnownCostUsd);
    }

    [Fact]
    public void ToolCalls_WithoutTheirOwnPrice_AreInAPerRequestFee()
    {
        // Perplexity sonar: $5 per 1,000 requests, no separate search price (genai-prices charges the searches 0).
        var usage = new CanonicalUsage { InputTokens = 1_000, OutputTokens = 1_000, WebSearches = 3 };

        PriceQuote quote = PricingEngine.Default.Price(new PriceRequest("perplexity", "sonar", s_at, usage));

        Assert.True(quote.Priced, quote.Reason);
    }

    [Fact]
    public void HourlyPrices_StayExact()
    {
        // whisper-1 at $0.36 per audio hour: 7,200 s is exactly $0.72 (price x seconds / 3600, not a rounded per-second price).
        CanonicalUsage usage = CanonicalUsageParser.Parse("""{"audio_seconds":7200,"input_audio_seconds":7200}""").Usage!;

        PriceQuote quote = PricingEngine.Default.Price(new PriceRequest("openai", "whisper-1", s_at, usage));

        Assert.Equal(0.72m, quote.CostUsd);
    }

    [Fact]
    public void Totals_CarryEveryUnit_AndTheReportedCostDifference()
    {
        UsageEvent Event(decimal cost, decimal? reported, bool priced, CanonicalUsage usage) => new()
        {
            EventId = Guid.NewGuid().ToString("N"), TenantId = "t", UserId = "u", Provider = "p", Model = "m", Timestamp = s_at,
            Usage = usage, CostUsd = cost, Priced = priced, ReportedCostUsd = reported,
        };

        UsageUnit image = UsageUnits.Get("output_image_tokens");
        UsageTotals totals = UsageTotals.Of(Event(0.10m, 0.12m, true, new CanonicalUsage { OutputTokens = 1290 }.With(image, 1290)))
            + UsageTotals.Of(Event(0m, 0.50m, false, new CanonicalUsage { InputTokens = 5 }))
            + UsageTotals.Of(Event(0.05m, null, true, new CanonicalUsage { InputTokens = 7 }));

        Assert.Equal(1290, totals.Units.Get(image));
        Assert.Equal(12, totals.InputTokens);
        Assert.Equal(0, totals.Units.Requests); // Events counts the calls
        Assert.Equal(2, totals.ReportedCostEvents);
        Assert.Equal(0.62m, totals.ReportedCostUsd);
        Assert.Equal(0.02m, totals.ReportedCostDifferenceUsd); // the unpriced event has no cost of ours to compare
        Assert.Equal(0.10m, totals.ReportedCostComparedUsd);
    }

    [Theory]
    [InlineData(0.0210, null)]           // 1 cent off on 1 USD: inside both tolerances
    [InlineData(1.05, "reported_cost_mismatch")]
    [InlineData(-0.10, "reported_cost_mismatch")]
    public void ReportedCostMismatch_AlertsBeyondBothTolerances(double difference, string? kind)
    {
        var detector = new AnomalyDetector(new AnomalyOptions { ReportedCostToleranceUsd = 0.05m, ReportedCostToleranceRelative = 0.05m },
            new FakeTimeProvider(s_at));

        Alert? alert = detector.ReportedCostMismatch("t1", "openrouter/openai/gpt-4o", "d20260601", 40, (decimal)difference, 1.00m);

        Assert.Equal(kind, alert?.Kind);
        if (alert is not null)
        {
            Assert.Equal(AlertKinds.ReportedCostMismatch, alert.Kind);
            Assert.Equal(alert.AlertId, detector.ReportedCostMismatch("t1", "openrouter/openai/gpt-4o", "d20260601", 40, (decimal)difference, 1.00m)!.AlertId);
        }
    }
}

public sealed class CanonicalUsageJsonTests
{
    [Fact]
    public void Json_RoundTripsEveryUnit_AndIsTheCanonicalKeys()
    {
        CanonicalUsage usage = new CanonicalUsage { InputTokens = 1300, OutputTokens = 1290 }
            .With(UsageUnits.Get("output_image_tokens"), 1290).With(UsageUnits.Get("input_document_pages"), 2);

        string json = System.Text.Json.JsonSerializer.Serialize(usage);

        Assert.Equal("""{"input_tokens":1300,"output_tokens":1290,"requests":1,"input_document_pages":2,"output_image_tokens":1290}""", json);
        Assert.Equal(usage, System.Text.Json.JsonSerializer.Deserialize<CanonicalUsage>(json));
        Assert.Equal(CanonicalUsage.None, System.Text.Json.JsonSerializer.Deserialize<CanonicalUsage>(System.Text.Json.JsonSerializer.Serialize(CanonicalUsage.None)));
        Assert.Equal(3, CanonicalUsage.From([new(UsageUnits.Get("requests"), 3)]).Requests);
    }
}

public sealed class ReportedCostScanTests
{
    [Fact]
    public async Task TheScanRaisesOneMismatchPerModelAndDay_FromTheRollupsOfTheEvents()
    {
        var now = new DateTimeOffset(2026, 6, 1, 18, 0, 0, TimeSpan.Zero);
        var clock = new FakeTimeProvider(now);
        LlmCost.Core.Rollups.UsageFact Fact(string id, string model, decimal cost, decimal? reported) => new()
        {
            EventId = id, TenantId = "t1", UserId = "u", Provider = "openrouter", Model = model, Timestamp = now.AddHours(-2),
            CostUsd = cost, ReportedCostUsd = reported,
        };

        // openrouter/a: reported 0.30 for calls we priced at 0.20 (a 50 % gap); openrouter/b: within a cent.
        LlmCost.Core.Rollups.RollupDay day = LlmCost.Core.Rollups.RollupCalculator.ComputeDay("t1", new DateOnly(2026, 6, 1),
        [
            Fact("1", "a", 0.10m, 0.15m), Fact("2", "a", 0.10m, 0.15m), Fact("3", "b", 1.00m, 1.004m), Fact("4", "b", 1.00m, null),
        ]);
        var rollups = new InMemoryRollupStore();
        await rollups.ReplacePeriodAsync("t1", LlmCost.Core.Rollups.RollupGranularity.Day, new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero), day.DayRows);

        IReadOnlyList<Alert> alerts = await new AnomalyScanner(rollups, new AnomalyDetector(new AnomalyOptions(), clock), clock).ScanTenantAsync("t1");

        Alert mismatch = Assert.Single(alerts, a => a.Kind == AlertKinds.ReportedCostMismatch);
        Assert.Equal("openrouter/a", mismatch.Details["model"]);
        Assert.Equal("0.10", mismatch.Details["difference_usd"]);
        Assert.Equal("2", mismatch.Details["events"]);
    }
}
