using LlmCost.Core.Usage;

namespace LlmCost.Core.Rollups;

public enum RollupGranularity
{
    Hour,
    Day,
    Month,
}

/// <summary>The dimensions every rollup is cut by.</summary>
public static class RollupDimensions
{
    public const string Tenant = "tenant";
    public const string Team = "team";
    public const string User = "user";
    public const string Provider = "provider";
    public const string Model = "model";

    public static IReadOnlyList<string> All { get; } = [Tenant, Team, User, Provider, Model];
}

/// <summary>
/// One aggregate: the ABSOLUTE totals of a (tenant, granularity, period, dimension, key) group, always recomputed
/// from the source rows (DESIGN invariant 3), never incremented.
/// </summary>
public sealed record RollupRow
{
    public required string TenantId { get; init; }
    public required RollupGranularity Granularity { get; init; }

    /// <summary>UTC start of the hour, day or month.</summary>
    public required DateTimeOffset PeriodStart { get; init; }

    public required string Dimension { get; init; }

    /// <summary>The tenant id, team id, user id, provider or model the row is about.</summary>
    public required string Key { get; init; }

    public long Requests { get; init; }
    public long Errors { get; init; }
    public long UnpricedRequests { get; init; }
    public long InputTokens { get; init; }
    public long OutputTokens { get; init; }
    public decimal CostUsd { get; init; }

    /// <summary>Every usage unit's total (requests excluded: see <see cref="Requests"/>).</summary>
    public CanonicalUsage Units { get; init; } = CanonicalUsage.None;

    /// <summary>Events with a provider-reported cost, their reported sum, and (over the priced ones) reported − ours and ours.</summary>
    public long ReportedCostEvents { get; init; }

    public decimal ReportedCostUsd { get; init; }
    public decimal ReportedCostDifferenceUsd { get; init; }
    public decimal ReportedCostComparedUsd { get; init; }

    public long TotalTokens => InputTokens + OutputTokens;
}

/// <summary>Period arithmetic in one place (UTC).</summary>
public static class RollupPeriods
{
    public static DateTimeOffset StartOf(RollupGranularity granularity, DateTimeOffset instant)
    {
        var utc = instant.ToUniversalTime();
        return granularity switch
        {
            RollupGranularity.Hour => new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, 0, 0, TimeSpan.Zero),
            RollupGranularity.Day => new DateTimeOffset(utc.Year, utc.Month, utc.Day, 0, 0, 0, TimeSpan.Zero),
            RollupGranularity.Month => new DateTimeOffset(utc.Year, utc.Month, 1, 0, 0, 0, TimeSpan.Zero),
            _ => throw new ArgumentOutOfRangeException(nameof(granularity)),
        };
    }

    public static DateTimeOffset Next(RollupGranularity granularity, DateTimeOffset periodStart) => granularity switch
    {
        RollupGranularity.Hour => periodStart.AddHours(1),
        RollupGranularity.Day => periodStart.AddDays(1),
        RollupGranularity.Month => periodStart.AddMonths(1),
        _ => throw new ArgumentOutOfRangeException(nameof(granularity)),
    };

    public static DateTimeOffset StartOfDay(DateOnly day) => new(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    public static DateOnly DayOf(DateTimeOffset instant) => DateOnly.FromDateTime(instant.UtcDateTime);
}
