using System.Globalization;

namespace LlmCost.Core.Recording;

public enum UsageGranularity
{
    Hour,
    Day,
    Month,
}

public enum UsageGroupBy
{
    None,
    Provider,
    Model,
}

/// <summary>One period (and group) of a usage report.</summary>
public sealed record UsageSeriesPoint(DateTimeOffset PeriodStart, string? Provider, string? Model, UsageTotals Totals);

public sealed record UsageReport(UsageTotals Total, IReadOnlyList<UsageSeriesPoint> Series);

/// <summary>
/// Sums hour buckets into a report: buckets whose hour starts in [from, to) count; each falls in the UTC hour,
/// day or month that contains it; groups are the provider, or (provider, model). Pure, so it is tested without
/// storage.
/// </summary>
public static class UsageQuery
{
    public static UsageReport Aggregate(
        IEnumerable<UsageBucket> buckets, DateTimeOffset from, DateTimeOffset to, UsageGranularity granularity, UsageGroupBy groupBy)
    {
        ArgumentNullException.ThrowIfNull(buckets);
        var series = new Dictionary<(DateTimeOffset, string?, string?), UsageTotals>();
        UsageTotals total = UsageTotals.Zero;
        foreach (UsageBucket bucket in buckets)
        {
            if (bucket.HourStart < from || bucket.HourStart >= to)
            {
                continue;
            }

            total += bucket.Totals;
            (DateTimeOffset, string?, string?) key = (
                PeriodStart(bucket.HourStart, granularity),
                groupBy == UsageGroupBy.None ? null : bucket.Provider,
                groupBy == UsageGroupBy.Model ? bucket.Model : null);
            series[key] = series.TryGetValue(key, out UsageTotals? sum) ? sum + bucket.Totals : bucket.Totals;
        }

        return new UsageReport(total, series
            .OrderBy(p => p.Key.Item1)
            .ThenBy(p => p.Key.Item2, StringComparer.Ordinal)
            .ThenBy(p => p.Key.Item3, StringComparer.Ordinal)
            .Select(p => new UsageSeriesPoint(p.Key.Item1, p.Key.Item2, p.Key.Item3, p.Value))
            .ToList());
    }

    public static DateTimeOffset PeriodStart(DateTimeOffset instant, UsageGranularity granularity)
    {
        DateTime utc = instant.UtcDateTime;
        return granularity switch
        {
            UsageGranularity.Hour => new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, 0, 0, TimeSpan.Zero),
            UsageGranularity.Day => new DateTimeOffset(utc.Year, utc.Month, utc.Day, 0, 0, 0, TimeSpan.Zero),
            UsageGranularity.Month => new DateTimeOffset(utc.Year, utc.Month, 1, 0, 0, 0, TimeSpan.Zero),
            _ => throw new ArgumentOutOfRangeException(nameof(granularity), granularity, null),
        };
    }

    /// <summary>
    /// The start of the hour, day or month of <paramref name="zone"/> (UTC when null) that holds the instant, as an
    /// instant with that zone's offset at the start. DST-correct: a day can last 23 or 25 hours; a day whose midnight
    /// does not exist starts when the clocks jump; an ambiguous start is the earlier of its two instants.
    /// </summary>
    public static DateTimeOffset PeriodStart(DateTimeOffset instant, UsageGranularity granularity, TimeZoneInfo? zone)
    {
        if (zone is null)
        {
            return PeriodStart(instant, granularity);
        }

        DateTimeOffset local = TimeZoneInfo.ConvertTime(instant, zone);
        if (granularity == UsageGranularity.Hour)
        {
            // The local hour holding the instant, with the instant's own offset (an hour repeated at fall-back stays two hours).
            return new DateTimeOffset(local.Year, local.Month, local.Day, local.Hour, 0, 0, local.Offset);
        }

        DateTime start = granularity switch
        {
            UsageGranularity.Day => local.Date,
            UsageGranularity.Month => new DateTime(local.Year, local.Month, 1, 0, 0, 0, DateTimeKind.Unspecified),
            _ => throw new ArgumentOutOfRangeException(nameof(granularity), granularity, null),
        };
        return LocalStart(DateTime.SpecifyKind(start, DateTimeKind.Unspecified), zone);
    }

    /// <summary>The first instant of a local wall-clock time in a zone (the jump's end when that time does not exist).</summary>
    public static DateTimeOffset LocalStart(DateTime wallClock, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        DateTime local = DateTime.SpecifyKind(wallClock, DateTimeKind.Unspecified);
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(15);
        }

        TimeSpan offset = zone.IsAmbiguousTime(local) ? zone.GetAmbiguousTimeOffsets(local).Max() : zone.GetUtcOffset(local);
        return new DateTimeOffset(local, offset);
    }

    /// <summary>
    /// Whether every UTC hour of [from, to) lies in one hour of the zone (its offset is a whole number of hours
    /// throughout): then hour summaries regroup into the zone's hours, days and months exactly.
    /// </summary>
    public static bool HourAligned(TimeZoneInfo zone, DateTimeOffset from, DateTimeOffset to)
    {
        ArgumentNullException.ThrowIfNull(zone);
        for (DateTimeOffset t = PeriodStart(from, UsageGranularity.Hour); t < to; t = t.AddHours(1))
        {
            if (zone.GetUtcOffset(t).Ticks % TimeSpan.TicksPerHour != 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether the zone is UTC over all of [from, to) (offset zero throughout).</summary>
    public static bool IsUtcThroughout(TimeZoneInfo zone, DateTimeOffset from, DateTimeOffset to)
    {
        ArgumentNullException.ThrowIfNull(zone);
        for (DateTimeOffset t = PeriodStart(from, UsageGranularity.Hour); t < to; t = t.AddHours(1))
        {
            if (zone.GetUtcOffset(t) != TimeSpan.Zero)
            {
                return false;
            }
        }

        return true;
    }

    public static bool TryParseGranularity(string? text, out UsageGranularity granularity)
    {
        granularity = UsageGranularity.Day;
        return text switch
        {
            null or "" or "day" => true,
            "hour" => Set(UsageGranularity.Hour, out granularity),
            "month" => Set(UsageGranularity.Month, out granularity),
            _ => false,
        };
    }

    public static bool TryParseGroupBy(string? text, out UsageGroupBy groupBy)
    {
        groupBy = UsageGroupBy.None;
        return text switch
        {
            null or "" => true,
            "provider" => Set(UsageGroupBy.Provider, out groupBy),
            "model" => Set(UsageGroupBy.Model, out groupBy),
            _ => false,
        };
    }

    private static bool Set<T>(T value, out T target)
    {
        target = value;
        return true;
    }
}

/// <summary>
/// The calendar range any date in a query or request may fall in. Dates at the calendar's edges (0001-01-01,
/// 9999-12-31) would overflow period arithmetic (a month after December 9999 does not exist); no usage can be
/// that old or that far ahead, so such input is a 400 naming the field, never an overflow.
/// </summary>
public static class QueryDates
{
    public static DateOnly Earliest { get; } = new(2000, 1, 1);

    public static DateOnly Latest { get; } = new(2199, 12, 31);

    public const string Problem = "must be between 2000-01-01 and 2199-12-31";

    public static bool InRange(DateOnly day) => day >= Earliest && day <= Latest;

    public static bool InRange(DateTimeOffset instant) => InRange(DateOnly.FromDateTime(instant.UtcDateTime));
}
