using LlmCost.Core.Recording;
using LlmCost.Core.Reports;

namespace LlmCost.Core.Tests.Usage;

public class UsageBreakdownTests
{
    private static readonly DateTimeOffset Day = new(2026, 3, 16, 0, 0, 0, TimeSpan.Zero);

    private static UsageBucket Bucket(string user, string? team, int hour, string provider, string model, decimal cost, long events = 1, long unpriced = 0) =>
        new("acme", user, team, Day.AddHours(hour), provider, model,
            new UsageTotals { Events = events, CostUsd = cost, InputTokens = 100 * events, OutputTokens = 10 * events, UnpricedEvents = unpriced });

    private static readonly UsageBucket[] Buckets =
    [
        Bucket("alice", "red", 1, "openai", "gpt-4o", 0.00575m),
        Bucket("alice", "red", 2, "openai", "gpt-4o", 0.01m, 2),
        Bucket("bob", null, 2, "azure", "gpt-4o", 0.1m),
        Bucket("bob", "blue", 26, "anthropic", "claude-x", 0m, 3, unpriced: 3),
        Bucket("carol", "blue", 30, "anthropic", "claude-sonnet-4", 1.333333333333m),
    ];

    [Fact]
    public void The_total_is_the_usage_query_total_and_groups_add_up_to_it_exactly()
    {
        var to = Day.AddDays(2);
        var breakdown = UsageBreakdown.Aggregate(Buckets, Day, to, UsageGranularity.Day, UsageDimension.Model, new UsageFilter());
        var query = UsageQuery.Aggregate(Buckets, Day, to, UsageGranularity.Day, UsageGroupBy.None);

        Assert.Equal((query.Total.CostUsd, query.Total.Events, query.Total.InputTokens, query.Total.OutputTokens, query.Total.UnpricedEvents),
            (breakdown.Total.CostUsd, breakdown.Total.Events, breakdown.Total.InputTokens, breakdown.Total.OutputTokens, breakdown.Total.UnpricedEvents));
        Assert.Equal(breakdown.Total.CostUsd, breakdown.Groups.Sum(g => g.Totals.CostUsd));
        Assert.Equal(breakdown.Total.Events, breakdown.Groups.Sum(g => g.Totals.Events));
        // The same model name under two providers stays two groups.
        Assert.Contains(breakdown.Groups, g => g.Key == "openai/gpt-4o");
        Assert.Contains(breakdown.Groups, g => g.Key == "azure/gpt-4o");
        // Largest cost first; an unpriced group keeps its count and no invented cost.
        Assert.Equal("anthropic/claude-sonnet-4", breakdown.Groups[0].Key);
        var unpriced = Assert.Single(breakdown.Groups, g => g.Key == "anthropic/claude-x");
        Assert.Equal(3, unpriced.Totals.UnpricedEvents);
        Assert.Equal(0m, unpriced.CostShare);
    }

    [Fact]
    public void Day_buckets_give_the_same_breakdown_by_day_and_month_as_the_hour_buckets()
    {
        // What a tenant's day rows hold (no user, one bucket per day and team/provider/model) must answer every
        // non-user breakdown by day or month exactly as the hour buckets do.
        var days = UsageDayBuckets.Of(Buckets);
        Assert.Equal(4, days.Count);
        Assert.All(days, b => Assert.Equal(TimeSpan.Zero, b.HourStart.TimeOfDay));
        foreach (var dimension in new[] { UsageDimension.Model, UsageDimension.Provider, UsageDimension.Team })
        {
            foreach (var granularity in new[] { UsageGranularity.Day, UsageGranularity.Month })
            {
                var fromHours = UsageBreakdown.Aggregate(Buckets, Day, Day.AddDays(2), granularity, dimension, new UsageFilter(Provider: "anthropic"));
                var fromDays = UsageBreakdown.Aggregate(days, Day, Day.AddDays(2), granularity, dimension, new UsageFilter(Provider: "anthropic"));
                Assert.Equal(fromHours.Groups.Select(g => (g.Key, g.Totals.CostUsd, g.Totals.Events, g.CostShare)), fromDays.Groups.Select(g => (g.Key, g.Totals.CostUsd, g.Totals.Events, g.CostShare)));
                Assert.Equal(fromHours.Series.Select(p => (p.PeriodStart, p.Key, p.Totals.CostUsd)), fromDays.Series.Select(p => (p.PeriodStart, p.Key, p.Totals.CostUsd)));
            }
        }
    }

    [Fact]
    public void Events_break_down_by_app_and_key_with_the_total_of_the_hour_buckets_and_the_app_filter_narrows()
    {
        UsageEvent Call(int i, string? app, string? key) => new()
        {
            EventId = $"e{i}", TenantId = "acme", UserId = i % 2 == 0 ? "alice" : "bob", TeamId = "red", Provider = "openai", Model = "gpt-4o",
            Timestamp = Day.AddMinutes(37 * i), Usage = new LlmCost.Core.Usage.CanonicalUsage { InputTokens = 10 * i, OutputTokens = i },
            CostUsd = 0.0001m * i, Priced = true, App = app, KeyId = key, RecordedAt = Day,
        };
        UsageEvent[] events = [.. Enumerable.Range(1, 40).Select(i => Call(i, i % 3 == 0 ? null : i % 3 == 1 ? "chat" : "search", i % 4 == 0 ? "k1" : "k2"))];
        var hours = UsageBucket.HoursOf(events);
        Assert.All(hours, b => Assert.Equal(TimeSpan.Zero, b.HourStart.TimeOfDay - TimeSpan.FromHours(b.HourStart.Hour)));
        var summaries = UsageBreakdown.Aggregate(hours.Select(b => b with { App = null, KeyId = null }), Day, Day.AddDays(2), UsageGranularity.Day, UsageDimension.Model, new UsageFilter());
        var apps = UsageBreakdown.Aggregate(hours, Day, Day.AddDays(2), UsageGranularity.Hour, UsageDimension.App, new UsageFilter());
        var keys = UsageBreakdown.Aggregate(hours, Day, Day.AddDays(2), UsageGranularity.Day, UsageDimension.Key, new UsageFilter());
        Assert.Equal(events.Sum(e => e.CostUsd), apps.Total.CostUsd);
        Assert.Equal(summaries.Total.CostUsd, apps.Total.CostUsd);
        Assert.Equal(summaries.Total.CostUsd, keys.Total.CostUsd);
        Assert.Equal([null, "chat", "search"], apps.Groups.Select(g => g.Key).Order(StringComparer.Ordinal));
        Assert.Equal(events.Where(e => e.App is null).Sum(e => e.CostUsd), Assert.Single(apps.Groups, g => g.Key is null).Totals.CostUsd);
        Assert.Equal(events.Where(e => e.KeyId == "k1").Sum(e => e.CostUsd), Assert.Single(keys.Groups, g => g.Key == "k1").Totals.CostUsd);
        var chat = UsageBreakdown.Aggregate(hours, Day, Day.AddDays(2), UsageGranularity.Day, UsageDimension.User, new UsageFilter(App: "chat"));
        Assert.Equal(events.Where(e => e.App == "chat").Sum(e => e.CostUsd), chat.Total.CostUsd);
        Assert.True(UsageBreakdown.NeedsEvents(UsageDimension.Model, new UsageFilter(App: "chat")));
        Assert.False(UsageBreakdown.NeedsEvents(UsageDimension.Team, new UsageFilter(Provider: "openai")));
        Assert.True(UsageBreakdown.TryParseDimension("key", out var key) && key == UsageDimension.Key);
    }

    [Fact]
    public void Days_of_a_zone_follow_its_daylight_saving_changes_and_the_total_stays_the_utc_total()
    {
        // One bucket per UTC hour, 1 cent each, from 2026-03-28 00:00Z to 2026-03-31 00:00Z. Berlin moves its clocks
        // forward on 2026-03-29 (01:00Z): that local day has 23 hours.
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        var start = new DateTimeOffset(2026, 3, 28, 0, 0, 0, TimeSpan.Zero);
        var hours = Enumerable.Range(0, 72).Select(h => new UsageBucket("acme", "alice", null, start.AddHours(h), "openai", "gpt-4o", new UsageTotals { Events = 1, CostUsd = 0.01m })).ToList();
        DateTimeOffset from = UsageQuery.LocalStart(new DateTime(2026, 3, 28), berlin), to = UsageQuery.LocalStart(new DateTime(2026, 3, 31), berlin);
        Assert.Equal(new DateTimeOffset(2026, 3, 27, 23, 0, 0, TimeSpan.Zero), from);
        Assert.Equal(new DateTimeOffset(2026, 3, 30, 22, 0, 0, TimeSpan.Zero), to);
        Assert.True(UsageQuery.HourAligned(berlin, from, to));

        var local = UsageBreakdown.Aggregate(hours, from, to, UsageGranularity.Day, UsageDimension.Provider, new UsageFilter(), berlin);
        Assert.Equal(
            [(new DateTimeOffset(2026, 3, 28, 0, 0, 0, TimeSpan.FromHours(1)), 23L), (new DateTimeOffset(2026, 3, 29, 0, 0, 0, TimeSpan.FromHours(1)), 23L),
             (new DateTimeOffset(2026, 3, 30, 0, 0, 0, TimeSpan.FromHours(2)), 24L)],
            local.Series.Select(p => (p.PeriodStart, p.Totals.Events)).ToArray());
        Assert.Equal(TimeSpan.FromHours(2), local.Series[2].PeriodStart.Offset);
        // The 28th starts at 23:00Z on the 27th, before the first bucket: 23 of its 24 hours are there.
        var utc = UsageBreakdown.Aggregate(hours, from, to, UsageGranularity.Day, UsageDimension.Provider, new UsageFilter());
        Assert.Equal(utc.Total.CostUsd, local.Total.CostUsd);
        Assert.Equal(0.70m, local.Total.CostUsd);

        // Hours keep their own offsets; a month of the zone starts at its local midnight.
        Assert.Equal(new DateTimeOffset(2026, 3, 29, 3, 0, 0, TimeSpan.FromHours(2)), UsageQuery.PeriodStart(new DateTimeOffset(2026, 3, 29, 1, 30, 0, TimeSpan.Zero), UsageGranularity.Hour, berlin));
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.FromHours(1)), UsageQuery.PeriodStart(start, UsageGranularity.Month, berlin));
        Assert.False(UsageQuery.HourAligned(TimeZoneInfo.FindSystemTimeZoneById("Asia/Kolkata"), from, to));
        Assert.True(UsageQuery.IsUtcThroughout(TimeZoneInfo.FindSystemTimeZoneById("Europe/London"), new DateTimeOffset(2026, 1, 5, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 1, 9, 0, 0, 0, TimeSpan.Zero)));
        Assert.False(UsageQuery.IsUtcThroughout(TimeZoneInfo.FindSystemTimeZoneById("Europe/London"), from, to));
    }

    [Fact]
    public void Taking_a_part_out_of_a_sum_is_exact_and_a_part_larger_than_the_sum_throws()
    {
        var a = new UsageTotals { Events = 3, CostUsd = 0.3m, InputTokens = 300, ReasoningTokens = 7, UnpricedEvents = 1 };
        var b = new UsageTotals { Events = 1, CostUsd = 0.1m, InputTokens = 100, ReasoningTokens = 7 };
        var rest = (a + b).Without(b);
        Assert.Equal((3L, 0.3m, 300L, 7L, 1L), (rest.Events, rest.CostUsd, rest.InputTokens, rest.ReasoningTokens, rest.UnpricedEvents));
        Assert.Equal(0L, a.Without(a).Events);
        Assert.Equal(0L, a.Without(a).ReasoningTokens);
        Assert.Throws<InvalidOperationException>(() => b.Without(a));
    }

    [Fact]
    public void Shares_are_rounded_to_six_places_and_series_are_per_period_and_key()
    {
        var breakdown = UsageBreakdown.Aggregate(Buckets, Day, Day.AddDays(2), UsageGranularity.Day, UsageDimension.User, new UsageFilter());
        decimal total = 0.00575m + 0.01m + 0.1m + 1.333333333333m;
        Assert.Equal(Math.Round(1.333333333333m / total, 6, MidpointRounding.ToEven), Assert.Single(breakdown.Groups, g => g.Key == "carol").CostShare);
        Assert.Equal(
            [(Day, "alice"), (Day, "bob"), (Day.AddDays(1), "bob"), (Day.AddDays(1), "carol")],
            breakdown.Series.Select(p => (p.PeriodStart, p.Key!)).ToArray());
        Assert.Equal(0.01575m, breakdown.Series[0].Totals.CostUsd);
    }

    [Fact]
    public void Filters_narrow_by_team_provider_and_model_and_a_missing_team_is_its_own_group()
    {
        var teams = UsageBreakdown.Aggregate(Buckets, Day, Day.AddDays(2), UsageGranularity.Month, UsageDimension.Team, new UsageFilter());
        Assert.Equal(0.1m, Assert.Single(teams.Groups, g => g.Key is null).Totals.CostUsd);

        var filtered = UsageBreakdown.Aggregate(Buckets, Day, Day.AddDays(2), UsageGranularity.Hour, UsageDimension.User, new UsageFilter(Provider: "openai", Model: "gpt-4o"));
        Assert.Equal(0.01575m, filtered.Total.CostUsd);
        Assert.Equal("alice", Assert.Single(filtered.Groups).Key);

        var blue = UsageBreakdown.Aggregate(Buckets, Day, Day.AddDays(2), UsageGranularity.Day, UsageDimension.User, new UsageFilter(TeamId: "blue"));
        Assert.Equal(["carol", "bob"], blue.Groups.Select(g => g.Key));
    }

    [Fact]
    public void The_range_is_half_open_and_an_empty_total_has_no_shares()
    {
        var first = UsageBreakdown.Aggregate(Buckets, Day.AddHours(2), Day.AddHours(26), UsageGranularity.Day, UsageDimension.Provider, new UsageFilter());
        Assert.Equal(0.11m, first.Total.CostUsd);
        var none = UsageBreakdown.Aggregate(Buckets, Day.AddHours(26), Day.AddHours(27), UsageGranularity.Day, UsageDimension.Provider, new UsageFilter());
        Assert.Null(Assert.Single(none.Groups).CostShare);
    }

    [Theory]
    [InlineData(null, UsageDimension.Model)]
    [InlineData("provider", UsageDimension.Provider)]
    [InlineData("team", UsageDimension.Team)]
    [InlineData("user", UsageDimension.User)]
    [InlineData("app", UsageDimension.App)]
    [InlineData("key", UsageDimension.Key)]
    public void Dimensions_parse(string? text, UsageDimension expected)
    {
        Assert.True(UsageBreakdown.TryParseDimension(text, out var dimension));
        Assert.Equal(expected, dimension);
        Assert.False(UsageBreakdown.TryParseDimension("tag", out _));
        Assert.False(UsageBreakdown.TryParseDimension("Model", out _));
    }

    [Fact]
    public void Focus_rows_carry_the_spec_columns_and_their_billed_costs_add_up_to_the_total()
    {
        var rows = FocusCostRows.Rows("acme", Buckets, Day, Day.AddDays(2)).ToList();
        var columns = FocusCostRows.Columns.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i);
        foreach (var mandatory in new[] { "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd",
                     "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ProviderName", "ServiceName", "ResourceId", "ConsumedQuantity", "ConsumedUnit", "Tags" })
        {
            Assert.Contains(mandatory, FocusCostRows.Columns);
        }

        Assert.All(rows, r => Assert.Equal(FocusCostRows.Columns.Count, r.Count));
        Assert.Equal(0.00575m + 0.01m + 0.1m + 1.333333333333m, rows.Sum(r => decimal.Parse(r[columns["BilledCost"]], System.Globalization.CultureInfo.InvariantCulture)));
        // alice's two openai hours on the same day are one daily row.
        var alice = Assert.Single(rows, r => r[columns["x_UserId"]] == "alice");
        Assert.Equal(("0.01575", "3", "2026-03-16T00:00:00Z", "2026-03-17T00:00:00Z"), (alice[columns["BilledCost"]], alice[columns["x_Requests"]], alice[columns["ChargePeriodStart"]], alice[columns["ChargePeriodEnd"]]));
        Assert.Equal(("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", "Usage", "openai/gpt-4o"), (alice[columns["BillingPeriodStart"]], alice[columns["BillingPeriodEnd"]], alice[columns["ChargeCategory"]], alice[columns["ResourceId"]]));
        Assert.Equal("{\"llmcost_team\":\"red\",\"llmcost_user\":\"alice\"}", alice[columns["Tags"]]);
        var unpriced = Assert.Single(rows, r => r[columns["ResourceName"]] == "claude-x");
        Assert.Equal(("0", "3"), (unpriced[columns["BilledCost"]], unpriced[columns["x_UnpricedRequests"]]));
    }
}
