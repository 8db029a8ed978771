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
