using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LlmCost.Core.Alerts;
using LlmCost.Core.Anomalies;
using LlmCost.Core.Forecasting;
using LlmCost.Core.Reports;
using LlmCost.Core.Retention;
using LlmCost.Core.Rollups;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Core.Tests.Operations;

public sealed class RollupCalculatorTests
{
    private static UsageFact Fact(string id, string user, string? team, string model, int hour, decimal cost, long input, long output, bool priced = true, bool ok = true) => new()
    {
        EventId = id,
        TenantId = "t1",
        TeamId = team,
        UserId = user,
        Provider = "openai",
        Model = model,
        Timestamp = new DateTimeOffset(2026, 11, 23, hour, 30, 0, TimeSpan.Zero),
        CostUsd = cost,
        InputTokens = input,
        OutputTokens = output,
        Priced = priced,
        Succeeded = ok,
    };

    [Fact]
    public void ComputeDay_sums_each_group_by_hour_and_day()
    {
        var day = RollupCalculator.ComputeDay("t1", new DateOnly(2026, 11, 23),
        [
            Fact("e1", "alice", "red", "gpt-4o", 9, 0.10m, 100, 10),
            Fact("e2", "alice", "red", "gpt-4o", 9, 0.05m, 50, 5, ok: false),
            Fact("e3", "bob", null, "mystery", 10, 0m, 7, 3, priced: false),
        ]);

        var tenantDay = Assert.Single(day.DayRows, r => r.Dimension == "tenant");
        Assert.Equal((3L, 1L, 1L, 157L, 18L, 0.15m), (tenantDay.Requests, tenantDay.Errors, tenantDay.UnpricedRequests, tenantDay.InputTokens, tenantDay.OutputTokens, tenantDay.CostUsd));
        var red = Assert.Single(day.DayRows, r => r.Dimension == "team");
        Assert.Equal(("red", 2L, 0.15m), (red.Key, red.Requests, red.CostUsd));
        Assert.Equal(0.15m, Assert.Single(day.HourRows, r => r.Dimension == "user" && r.Key == "alice").CostUsd);
        Assert.Equal(1L, Assert.Single(day.HourRows, r => r.Dimension == "model" && r.Key == "openai/mystery").UnpricedRequests);
        Assert.Equal(2, day.HourRows.Count(r => r.Dimension == "tenant"));
    }

    [Fact]
    public void ComputeDay_rejects_an_event_of_another_day()
    {
        Assert.Throws<ArgumentException>(() => RollupCalculator.ComputeDay("t1", new DateOnly(2026, 11, 24), [Fact("e1", "a", null, "m", 1, 1m, 1, 1)]));
    }
}

public sealed class RobustStatisticsTests
{
    [Fact]
    public void Median_and_mad_match_hand_computation()
    {
        double[] values = [1, 2, 3, 4, 100];
        Assert.Equal(3, RobustStatistics.Median(values));
        // |x-3| = 2,1,0,1,97 → median 1
        Assert.Equal(1, RobustStatistics.Mad(values, 3));
        var score = RobustStatistics.Score(10, values, 0);
        Assert.Equal((10 - 3) / 1.4826, score.Z, 6);
    }

    [Fact]
    public void Flat_history_uses_the_spread_floor()
    {
        var score = RobustStatistics.Score(12, [10, 10, 10, 10, 10, 10, 10], minimumSpread: 1.0);
        Assert.Equal(2.0, score.Z, 9);
    }
}

public sealed class AnomalyDetectorTests
{
    private static readonly FakeTimeProvider Clock = new(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));

    private static MetricWindow Window(decimal cost, int history, decimal each = 10m, long tokens = 0) => new()
    {
        TenantId = "t1",
        Scope = "user",
        ScopeId = "alice",
        WindowLabel = "d20261123",
        WindowStart = new DateTimeOffset(2026, 11, 23, 0, 0, 0, TimeSpan.Zero),
        CostUsd = cost,
        Tokens = tokens,
        Baseline = [.. Enumerable.Range(1, history).Select(i => new BaselinePoint(new DateOnly(2026, 11, 1).AddDays(i), each + (i % 3), 0))],
    };

    [Fact]
    public void Spike_alerts_with_a_deterministic_id()
    {
        // Baseline 10..12 (median 11, MAD 1 → spread max(1.4826, 1.1)); 50 is z ≈ 26.
        var detector = new AnomalyDetector(new AnomalyOptions(), Clock);
        var first = Assert.Single(detector.Evaluate(Window(50m, 10)));
        var again = Assert.Single(detector.Evaluate(Window(50m, 10)));
        Assert.Equal(AlertKinds.CostAnomaly, first.Kind);
        Assert.Equal(first.AlertId, again.AlertId);
        Assert.Equal("26.31", first.Details["z_score"]);
    }

    [Fact]
    public void New_users_and_tiny_spend_do_not_alert()
    {
        var detector = new AnomalyDetector(new AnomalyOptions(), Clock);
        Assert.Empty(detector.Evaluate(Window(50m, 6)));
        Assert.Empty(detector.Evaluate(Window(0.9m, 10, each: 0.01m)));
    }

    [Fact]
    public void Threshold_is_configurable()
    {
        // z for 14 is (14-11)/1.4826 = 2.02: alerts at 2.0, not at 3.0.
        Assert.Empty(new AnomalyDetector(new AnomalyOptions(), Clock).Evaluate(Window(14m, 10)));
        Assert.Single(new AnomalyDetector(new AnomalyOptions { Threshold = 2.0 }, Clock).Evaluate(Window(14m, 10)));
    }

    [Fact]
    public void Error_rate_spike_needs_volume_and_a_real_rise()
    {
        var detector = new AnomalyDetector(new AnomalyOptions(), Clock);
        var baseline = Enumerable.Range(0, 10).Select(_ => (100L, 1L)).ToList();
        ErrorRateWindow Window(long requests, long errors) => new()
        {
            TenantId = "t1", Provider = "openai", WindowLabel = "h2026112311", WindowStart = Clock.GetUtcNow(), Requests = requests, Errors = errors, Baseline = baseline,
        };
        Assert.NotNull(detector.Evaluate(Window(100, 30)));
        Assert.Null(detector.Evaluate(Window(10, 5)));
        Assert.Null(detector.Evaluate(Window(100, 3)));
    }

    [Fact]
    public void Options_are_validated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AnomalyOptions { BaselineDays = 40 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new AnomalyOptions { Threshold = 0 }.Validate());
    }
}

public sealed class SpendForecasterTests
{
    [Fact]
    public void Flat_spend_projects_the_rest_of_the_month_exactly()
    {
        // Noon on Nov 15: 14 complete days of $10 before, today half; remaining = 0.5 + 15 days.
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 15, 12, 0, 0, TimeSpan.Zero));
        var history = Enumerable.Range(0, 28).Select(i => new DailySpend(new DateOnly(2026, 10, 18).AddDays(i), 10m)).ToList();
        history.Add(new DailySpend(new DateOnly(2026, 11, 15), 5m));
        var forecast = new SpendForecaster(clock).Forecast(new ForecastRequest
        {
            PeriodStart = new DateOnly(2026, 11, 1), PeriodEnd = new DateOnly(2026, 12, 1), History = history,
        });
        Assert.Equal(145m, forecast.SpentToDate);
        Assert.Equal(300m, forecast.ProjectedTotal);
        Assert.Equal(300m, forecast.Lower);
        Assert.Equal(300m, forecast.Upper);
        Assert.Equal(15.5, forecast.RemainingDays);
        Assert.True(forecast.ProjectedToExceed(299m));
        Assert.False(forecast.ProjectedToExceed(300m));
    }

    [Fact]
    public void Linear_growth_is_extrapolated_and_the_interval_contains_the_point()
    {
        // Spend grows $1/day: day k of the window costs k. Midnight Nov 11: trained on Oct 14..Nov 10 (values 1..28).
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 11, 0, 0, 0, TimeSpan.Zero));
        var history = Enumerable.Range(1, 28).Select(k => new DailySpend(new DateOnly(2026, 10, 13).AddDays(k), k)).ToList();
        var forecast = new SpendForecaster(clock).Forecast(new ForecastRequest
        {
            PeriodStart = new DateOnly(2026, 11, 1), PeriodEnd = new DateOnly(2026, 11, 16), History = history,
        });
        // Spent Nov 1..10 = 19+..+28 = 235; next 5 days 29..33 = 155.
        Assert.Equal(235m, forecast.SpentToDate);
        Assert.Equal(390m, Math.Round(forecast.ProjectedTotal, 3));
        Assert.True(forecast.Lower <= forecast.ProjectedTotal && forecast.ProjectedTotal <= forecast.Upper);
    }

    [Fact]
    public void Little_history_falls_back_to_the_run_rate()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 3, 0, 0, 0, TimeSpan.Zero));
        var forecast = new SpendForecaster(clock).Forecast(new ForecastRequest
        {
            PeriodStart = new DateOnly(2026, 11, 1), PeriodEnd = new DateOnly(2026, 12, 1),
            History = [new DailySpend(new DateOnly(2026, 11, 1), 4m), new DailySpend(new DateOnly(2026, 11, 2), 6m)],
        });
        Assert.Equal("run_rate", forecast.Method);
        Assert.Equal(10m + (5m * 28), forecast.ProjectedTotal);
    }
}

public sealed class AlertPayloadTests
{
    private static Alert Sample() => new()
    {
        AlertId = "budget_threshold-abc",
        Kind = AlertKinds.BudgetThreshold,
        TenantId = "t1",
        Scope = "user",
        ScopeId = "alice",
        BudgetId = "b1",
        ThresholdPercent = 80m,
        CreatedAt = new DateTimeOffset(2026, 11, 23, 7, 0, 0, TimeSpan.Zero),
        Details = new Dictionary<string, string> { ["spent_usd"] = "80.5" },
    };

    [Fact]
    public void Signature_matches_openssl()
    {
        // echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac test-secret-0123456789
        Assert.Equal("sha256=6e873f59dc6002f6de5f578e9bf3f90a7906473a2924651d6f4cc33d61aff598",
            AlertPayloads.Sign("test-secret-0123456789", "1700000000", "{\"a\":1}"u8));
    }

    [Fact]
    public void Verify_rejects_replays_and_tampering()
    {
        var body = AlertPayloads.WebhookBody(Sample());
        var now = new DateTimeOffset(2026, 11, 23, 7, 0, 0, TimeSpan.Zero);
        var ts = AlertPayloads.Timestamp(now);
        var sig = AlertPayloads.Sign("0123456789abcdef", ts, body);
        Assert.True(AlertPayloads.Verify("0123456789abcdef", ts, body, sig, now.AddMinutes(1), TimeSpan.FromMinutes(5)));
        Assert.False(AlertPayloads.Verify("0123456789abcdef", ts, body, sig, now.AddMinutes(6), TimeSpan.FromMinutes(5)));
        Assert.False(AlertPayloads.Verify("0123456789abcdef", ts, [.. body, (byte)' '], sig, now, TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public void Webhook_body_has_the_contract_fields()
    {
        using var doc = JsonDocument.Parse(AlertPayloads.WebhookBody(Sample()));
        var root = doc.RootElement;
        Assert.Equal("budget_threshold-abc", root.GetProperty("alert_id").GetString());
        Assert.Equal("budget_threshold", root.GetProperty("kind").GetString());
        Assert.Equal("t1", root.GetProperty("tenant_id").GetString());
        Assert.Equal("user", root.GetProperty("scope").GetString());
        Assert.Equal("alice", root.GetProperty("scope_id").GetString());
        Assert.Equal("80", root.GetProperty("threshold_percent").GetString());
        Assert.Equal("2026-11-23T07:00:00.000Z", root.GetProperty("created_at").GetString());
        Assert.Equal("80.5", root.GetProperty("details").GetProperty("spent_usd").GetString());
    }

    [Fact]
    public void Slack_and_teams_bodies_have_their_required_shapes()
    {
        using var slack = JsonDocument.Parse(AlertPayloads.SlackBody(Sample()));
        Assert.Contains("crossed 80 %", slack.RootElement.GetProperty("text").GetString(), StringComparison.Ordinal);
        using var teams = JsonDocument.Parse(AlertPayloads.TeamsBody(Sample()));
        var attachment = teams.RootElement.GetProperty("attachments")[0];
        Assert.Equal("application/vnd.microsoft.card.adaptive", attachment.GetProperty("contentType").GetString());
        Assert.Equal("AdaptiveCard", attachment.GetProperty("content").GetProperty("type").GetString());
    }

    [Fact]
    public void Alert_ids_are_stable_and_unambiguous()
    {
        Assert.Equal(AlertIds.For("k", "a|b", "c"), AlertIds.For("k", "a|b", "c"));
        Assert.NotEqual(AlertIds.For("k", "a|b", "c"), AlertIds.For("k", "a", "b|c"));
        // Independent oracle for the hash layout: kind, then \x1f + length + ':' + part.
        var expected = "k-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("k\u001f1:x")), 0, 16);
        Assert.Equal(expected, AlertIds.For("k", "x"));
    }
}

public sealed class AlertRuleTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    private static Alert Anomaly(string user) => new()
    {
        AlertId = "a-" + user, Kind = AlertKinds.CostAnomaly, TenantId = "t1", Scope = "user", ScopeId = user, CreatedAt = Now,
    };

    [Fact]
    public void Cooldown_suppresses_the_same_scope_only_within_the_window()
    {
        var rule = new AlertRule { RuleId = "r1", TenantId = "t1", Kind = AlertKinds.CostAnomaly, Cooldown = TimeSpan.FromHours(1), CreatedAt = Now };
        var fired = new Dictionary<string, DateTimeOffset?> { ["r1|user|alice"] = Now.AddMinutes(-30) };
        Assert.Equal(RuleDecision.CoolingDown, AlertRulePolicy.Decide(Anomaly("alice"), [rule], k => fired.GetValueOrDefault(k), Now).Decision);
        Assert.Equal(RuleDecision.Deliver, AlertRulePolicy.Decide(Anomaly("bob"), [rule], k => fired.GetValueOrDefault(k), Now).Decision);
        Assert.Equal(RuleDecision.Deliver, AlertRulePolicy.Decide(Anomaly("alice"), [rule], k => fired.GetValueOrDefault(k), Now.AddMinutes(31)).Decision);
    }

    [Fact]
    public void The_most_specific_rule_wins()
    {
        var all = new AlertRule { RuleId = "all", TenantId = "t1", Kind = AlertKinds.CostAnomaly, Enabled = false, CreatedAt = Now };
        var alice = new AlertRule { RuleId = "alice", TenantId = "t1", Kind = AlertKinds.CostAnomaly, Scope = "user", ScopeId = "alice", CreatedAt = Now };
        Assert.Equal(RuleDecision.Deliver, AlertRulePolicy.Decide(Anomaly("alice"), [all, alice], _ => null, Now).Decision);
        Assert.Equal(RuleDecision.Disabled, AlertRulePolicy.Decide(Anomaly("bob"), [all, alice], _ => null, Now).Decision);
    }

    [Fact]
    public void Subscription_validation_names_the_field()
    {
        Assert.Empty(SubscriptionValidator.Validate(new SubscriptionRequest("t1", "webhook", "https://example.com/h", null, "0123456789abcdef", ["cost_anomaly"])));
        Assert.Contains("channel", SubscriptionValidator.Validate(new SubscriptionRequest("t1", "pager", null, null, null, null)).Keys);
        Assert.Contains("email", SubscriptionValidator.Validate(new SubscriptionRequest("t1", "email", null, "not-an-address", null, null)).Keys);
        Assert.Contains("url", SubscriptionValidator.Validate(new SubscriptionRequest("t1", "slack", "ftp://x", null, null, null)).Keys);
        Assert.Contains("kinds", SubscriptionValidator.Validate(new SubscriptionRequest("t1", "slack", "https://x", null, null, ["nope"])).Keys);
    }
}

public sealed class ReportAndArchiveTests
{
    private static RollupRow Row(int hour, string dimension, string key, decimal cost) => new()
    {
        TenantId = "t1", Granularity = RollupGranularity.Hour, PeriodStart = new DateTimeOffset(2026, 11, 23, hour, 0, 0, TimeSpan.Zero),
        Dimension = dimension, Key = key, Requests = 1, InputTokens = 10, OutputTokens = 2, CostUsd = cost,
    };

    [Fact]
    public void Daily_report_is_deterministic_and_totals_the_tenant_rows()
    {
        RollupRow[] rows = [Row(9, "tenant", "t1", 0.25m), Row(9, "user", "=cmd", 0.25m), Row(10, "tenant", "t1", 1.5m)];
        var request = new ReportRequest("t1", ReportPeriod.Day, new DateOnly(2026, 11, 23));
        var a = ReportBuilder.Build(request, rows);
        var b = ReportBuilder.Build(request, rows.Reverse());
        Assert.Equal(1.75m, a.Totals.CostUsd);
        Assert.Equal(2L, a.Totals.Requests);
        Assert.All(a.Files.Zip(b.Files), p => Assert.Equal(p.First.Content, p.Second.Content));
        var csv = Encoding.UTF8.GetString(a.Files.Single(f => f.Name == "daily.csv").Content).Split('\n');
        Assert.Equal(ReportBuilder.CsvHeader, csv[0]);
        Assert.Equal("2026-11-23T09:00:00Z,user,'=cmd,1,0,0,10,2,0.25,", csv[2]);
        Assert.Equal("reports/t1/2026/11/23/", request.Folder("t1"));
        Assert.StartsWith("<svg", Encoding.UTF8.GetString(a.Files.Single(f => f.Name == "daily.svg").Content), StringComparison.Ordinal);
    }

    [Fact]
    public void Archive_round_trips_gzip_json_lines()
    {
        UsageFact[] facts =
        [
            new() { EventId = "e1", TenantId = "t1", UserId = "u", Provider = "p", Model = "m", Timestamp = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), CostUsd = 0.000001m, InputTokens = 3, OutputTokens = 4 },
            new() { EventId = "e2", TenantId = "t1", TeamId = "x", UserId = "u", Provider = "p", Model = "m", Timestamp = new DateTimeOffset(2026, 1, 1, 1, 0, 0, TimeSpan.Zero), Priced = false, Succeeded = false },
        ];
        var bytes = EventArchive.Write(facts);
        Assert.Equal(0x1f, bytes[0]);
        Assert.Equal(facts, EventArchive.Read(bytes));
        Assert.Equal("archive/t1/2026/01/01.jsonl.gz", EventArchive.PathFor("t1", new DateOnly(2026, 1, 1)));
    }

    [Fact]
    public void Retention_cutoff_keeps_the_last_90_whole_days()
    {
        var cutoff = new RetentionOptions().RawCutoff(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
        Assert.Equal(new DateOnly(2026, 8, 25), cutoff);
        _ = CultureInfo.InvariantCulture;
    }
}
