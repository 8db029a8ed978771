using LlmCost.Core.Budgets;

namespace LlmCost.Core.Tests.Budgets;

/// <summary>Expected boundaries were computed independently with GNU date / zdump (tzdata), not with this code.</summary>
public sealed class BudgetPeriodCalculatorTests
{
    private static readonly DateTimeOffset Anchor = DateTimeOffset.Parse("2026-01-31T10:00:00Z");

    private static PeriodWindow Calendar(BudgetPeriod period, string zone, string instant) =>
        BudgetPeriodCalculator.WindowFor(period, PeriodAlignment.Calendar, BudgetPeriodCalculator.FindZone(zone), Anchor, DateTimeOffset.Parse(instant));

    private static PeriodWindow Rolling(BudgetPeriod period, string zone, string anchor, string instant) =>
        BudgetPeriodCalculator.WindowFor(period, PeriodAlignment.Rolling, BudgetPeriodCalculator.FindZone(zone), DateTimeOffset.Parse(anchor), DateTimeOffset.Parse(instant));

    private static void AssertWindow(PeriodWindow window, string start, string end)
    {
        Assert.Equal(DateTimeOffset.Parse(start), window.Start);
        Assert.Equal(DateTimeOffset.Parse(end), window.End);
    }

    [Theory]
    // Berlin spring forward (2026-03-29): a 23-hour day.
    [InlineData("Europe/Berlin", "2026-03-29T12:00:00Z", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z")]
    [InlineData("Europe/Berlin", "2026-03-28T23:00:00Z", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z")]
    [InlineData("Europe/Berlin", "2026-03-28T22:59:59Z", "2026-03-27T23:00:00Z", "2026-03-28T23:00:00Z")]
    // Berlin fall back (2026-10-25): a 25-hour day.
    [InlineData("Europe/Berlin", "2026-10-25T22:30:00Z", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z")]
    // New York spring forward (2026-03-08) and fall back (2026-11-01).
    [InlineData("America/New_York", "2026-03-08T04:59:00Z", "2026-03-07T05:00:00Z", "2026-03-08T05:00:00Z")]
    [InlineData("America/New_York", "2026-03-08T05:00:00Z", "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z")]
    [InlineData("America/New_York", "2026-11-01T23:00:00Z", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z")]
    // Santiago springs forward AT midnight (2026-09-06 00:00 does not exist): the day starts at 01:00 -03.
    [InlineData("America/Santiago", "2026-09-06T12:00:00Z", "2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z")]
    [InlineData("America/Santiago", "2026-09-06T03:59:59Z", "2026-09-05T04:00:00Z", "2026-09-06T04:00:00Z")]
    public void Daily_follows_the_local_calendar_across_dst(string zone, string instant, string start, string end)
    {
        var window = Calendar(BudgetPeriod.Daily, zone, instant);

        AssertWindow(window, start, end);
    }

    [Fact]
    public void Dst_days_are_23_and_25_hours_long()
    {
        Assert.Equal(TimeSpan.FromHours(23), Calendar(BudgetPeriod.Daily, "Europe/Berlin", "2026-03-29T12:00:00Z").Length);
        Assert.Equal(TimeSpan.FromHours(25), Calendar(BudgetPeriod.Daily, "Europe/Berlin", "2026-10-25T12:00:00Z").Length);
        Assert.Equal(TimeSpan.FromHours(23), Calendar(BudgetPeriod.Daily, "America/New_York", "2026-03-08T12:00:00Z").Length);
        Assert.Equal(TimeSpan.FromHours(25), Calendar(BudgetPeriod.Daily, "America/New_York", "2026-11-01T12:00:00Z").Length);
    }

    [Fact]
    public void The_repeated_hour_of_a_fall_back_night_is_two_periods()
    {
        // 2026-11-01 01:30 New York happens at 05:30Z (EDT) and again at 06:30Z (EST).
        var first = Calendar(BudgetPeriod.Hourly, "America/New_York", "2026-11-01T05:30:00Z");
        var second = Calendar(BudgetPeriod.Hourly, "America/New_York", "2026-11-01T06:30:00Z");

        AssertWindow(first, "2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z");
        AssertWindow(second, "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z");
        Assert.NotEqual(first.Key, second.Key);
    }

    [Fact]
    public void Hourly_in_a_half_hour_zone_starts_at_half_past_utc()
    {
        AssertWindow(Calendar(BudgetPeriod.Hourly, "Asia/Kolkata", "2026-05-01T10:10:00Z"), "2026-05-01T09:30:00Z", "2026-05-01T10:30:00Z");
    }

    [Theory]
    // February in Berlin; leap-year February 2028 ends on the 29th.
    [InlineData("Europe/Berlin", "2026-02-15T12:00:00Z", "2026-01-31T23:00:00Z", "2026-02-28T23:00:00Z")]
    [InlineData("Europe/Berlin", "2028-02-29T22:59:59Z", "2028-01-31T23:00:00Z", "2028-02-29T23:00:00Z")]
    [InlineData("Europe/Berlin", "2028-02-29T23:00:00Z", "2028-02-29T23:00:00Z", "2028-03-31T22:00:00Z")]
    // Jan 31 23:30 UTC is already February in Berlin.
    [InlineData("Europe/Berlin", "2026-01-31T23:30:00Z", "2026-01-31T23:00:00Z", "2026-02-28T23:00:00Z")]
    [InlineData("UTC", "2026-01-31T23:30:00Z", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")]
    public void Monthly_calendar(string zone, string instant, string start, string end)
    {
        AssertWindow(Calendar(BudgetPeriod.Monthly, zone, instant), start, end);
    }

    [Theory]
    // Monday 2026-11-23 to Monday 2026-11-30 (ISO weeks).
    [InlineData("UTC", "2026-11-29T23:30:00Z", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z")]
    // The same instant is already Monday 00:30 in Berlin: a new week.
    [InlineData("Europe/Berlin", "2026-11-29T23:30:00Z", "2026-11-29T23:00:00Z", "2026-12-06T23:00:00Z")]
    // The week containing Berlin's spring-forward Sunday is 167 hours long.
    [InlineData("Europe/Berlin", "2026-03-29T12:00:00Z", "2026-03-22T23:00:00Z", "2026-03-29T22:00:00Z")]
    public void Weekly_calendar_starts_on_monday(string zone, string instant, string start, string end)
    {
        AssertWindow(Calendar(BudgetPeriod.Weekly, zone, instant), start, end);
    }

    [Fact]
    public void Yearly_calendar_in_new_york()
    {
        // 2027-01-01T03:00Z is still 2026-12-31 22:00 in New York.
        AssertWindow(Calendar(BudgetPeriod.Yearly, "America/New_York", "2027-01-01T03:00:00Z"), "2026-01-01T05:00:00Z", "2027-01-01T05:00:00Z");
    }

    [Theory]
    // Anchored on Jan 31: February's period ends on the 28th, March's returns to the 31st.
    [InlineData("2026-01-31T10:00:00Z", "2026-02-20T00:00:00Z", "2026-01-31T10:00:00Z", "2026-02-28T10:00:00Z")]
    [InlineData("2026-01-31T10:00:00Z", "2026-03-01T00:00:00Z", "2026-02-28T10:00:00Z", "2026-03-31T10:00:00Z")]
    [InlineData("2028-01-31T10:00:00Z", "2028-03-01T00:00:00Z", "2028-02-29T10:00:00Z", "2028-03-31T10:00:00Z")]
    // Before the anchor, periods count backwards from it.
    [InlineData("2026-01-31T10:00:00Z", "2026-01-15T00:00:00Z", "2025-12-31T10:00:00Z", "2026-01-31T10:00:00Z")]
    public void Rolling_monthly_keeps_the_anchor_day(string anchor, string instant, string start, string end)
    {
        AssertWindow(Rolling(BudgetPeriod.Monthly, "UTC", anchor, instant), start, end);
    }

    [Fact]
    public void Rolling_daily_counts_24_hours_from_the_anchor()
    {
        AssertWindow(Rolling(BudgetPeriod.Daily, "UTC", "2026-01-31T10:15:00Z", "2026-02-03T10:14:59Z"), "2026-02-02T10:15:00Z", "2026-02-03T10:15:00Z");
        AssertWindow(Rolling(BudgetPeriod.Daily, "UTC", "2026-01-31T10:15:00Z", "2026-02-03T10:15:00Z"), "2026-02-03T10:15:00Z", "2026-02-04T10:15:00Z");
    }

    [Fact]
    public void Rolling_yearly_from_a_leap_day_clamps_to_feb_28()
    {
        AssertWindow(Rolling(BudgetPeriod.Yearly, "UTC", "2028-02-29T00:00:00Z", "2029-06-01T00:00:00Z"), "2029-02-28T00:00:00Z", "2030-02-28T00:00:00Z");
    }

    [Fact]
    public void Per_request_budgets_have_no_window()
    {
        var budget = new BudgetDefinition
        {
            BudgetId = "b", TenantId = "t", Scope = BudgetScope.User, ScopeId = "u", AmountUsd = 1m,
            Period = BudgetPeriod.PerRequest, Mode = BudgetMode.Hard, CreatedAt = Anchor,
        };

        Assert.Null(BudgetPeriodCalculator.WindowFor(budget, Anchor));
    }
}
