using LlmCost.Core.Usage;

namespace LlmCost.Core.Rollups;

/// <summary>
/// Pure aggregation. A day's hour and day rows are computed from that day's events; a month's rows from its day
/// rows. Same input, same rows: recomputing is always safe, which is what makes reruns and overlapping runs
/// harmless.
/// </summary>
public static class RollupCalculator
{
    private static readonly Pricing.UsageUnit s_input = Pricing.UsageUnits.Get("input_tokens");
    private static readonly Pricing.UsageUnit s_output = Pricing.UsageUnits.Get("output_tokens");

    /// <summary>Events without a team are not counted under any team (the tenant row still counts them).</summary>
    public static RollupDay ComputeDay(string tenantId, DateOnly day, IEnumerable<UsageFact> facts)
    {
        ArgumentException.ThrowIfNullOrEmpty(tenantId);
        ArgumentNullException.ThrowIfNull(facts);
        var dayStart = RollupPeriods.StartOfDay(day);
        var hours = new Dictionary<(DateTimeOffset, string, string), Accumulator>();
        var days = new Dictionary<(DateTimeOffset, string, string), Accumulator>();
        foreach (var fact in facts)
        {
            if (!string.Equals(fact.TenantId, tenantId, StringComparison.Ordinal) || RollupPeriods.DayOf(fact.Timestamp) != day)
            {
                throw new ArgumentException($"event {fact.EventId} is not of tenant {tenantId} on {day:yyyy-MM-dd}", nameof(facts));
            }

            var hour = RollupPeriods.StartOf(RollupGranularity.Hour, fact.Timestamp);
            foreach (var (dimension, key) in KeysOf(fact))
            {
                Get(hours, (hour, dimension, key)).Add(fact);
                Get(days, (dayStart, dimension, key)).Add(fact);
            }
        }

        return new RollupDay(
            tenantId,
            day,
            ToRows(tenantId, RollupGranularity.Hour, hours),
            ToRows(tenantId, RollupGranularity.Day, days));
    }

    /// <summary>A month from its day rows (each day row is already an absolute, recomputed value).</summary>
    public static IReadOnlyList<RollupRow> ComputeMonth(string tenantId, DateTimeOffset monthStart, IEnumerable<RollupRow> dayRows)
    {
        ArgumentException.ThrowIfNullOrEmpty(tenantId);
        ArgumentNullException.ThrowIfNull(dayRows);
        var months = new Dictionary<(DateTimeOffset, string, string), Accumulator>();
        foreach (var row in dayRows)
        {
            if (row.Granularity != RollupGranularity.Day || RollupPeriods.StartOf(RollupGranularity.Month, row.PeriodStart) != monthStart)
            {
                throw new ArgumentException("only day rows of the month can make a month", nameof(dayRows));
            }

            Get(months, (monthStart, row.Dimension, row.Key)).Add(row);
        }

        return ToRows(tenantId, RollupGranularity.Month, months);
    }

    private static IEnumerable<(string Dimension, string Key)> KeysOf(UsageFact fact)
    {
        yield return (RollupDimensions.Tenant, fact.TenantId);
        if (!string.IsNullOrEmpty(fact.TeamId))
        {
            yield return (RollupDimensions.Team, fact.TeamId);
        }

        yield return (RollupDimensions.User, fact.UserId);
        yield return (RollupDimensions.Provider, fact.Provider);
        yield return (RollupDimensions.Model, fact.Provider + "/" + fact.Model);
    }

    private static Accumulator Get(Dictionary<(DateTimeOffset, string, string), Accumulator> map, (DateTimeOffset, string, string) key)
    {
        if (!map.TryGetValue(key, out var acc))
        {
            acc = new Accumulator();
            map[key] = acc;
        }

        return acc;
    }

    private static List<RollupRow> ToRows(
        string tenantId, RollupGranularity granularity, Dictionary<(DateTimeOffset Period, string Dimension, string Key), Accumulator> map) =>
        [.. map
            .OrderBy(e => e.Key.Period)
            .ThenBy(e => e.Key.Dimension, StringComparer.Ordinal)
            .ThenBy(e => e.Key.Key, StringComparer.Ordinal)
            .Select(e => new RollupRow
            {
                TenantId = tenantId,
                Granularity = granularity,
                PeriodStart = e.Key.Period,
                Dimension = e.Key.Dimension,
                Key = e.Key.Key,
                Requests = e.Value.Requests,
                Errors = e.Value.Errors,
                UnpricedRequests = e.Value.Unpriced,
                InputTokens = e.Value.InputTokens,
                OutputTokens = e.Value.OutputTokens,
                CostUsd = e.Value.CostUsd,
                // The token columns and the unit totals say the same thing (facts built without units still agree).
                Units = e.Value.Units.With(s_input, e.Value.InputTokens).With(s_output, e.Value.OutputTokens),
                ReportedCostEvents = e.Value.ReportedCostEvents,
                ReportedCostUsd = e.Value.ReportedCostUsd,
                ReportedCostDifferenceUsd = e.Value.ReportedCostDifferenceUsd,
                ReportedCostComparedUsd = e.Value.ReportedCostComparedUsd,
            })];

    private sealed class Accumulator
    {
        public long Requests { get; private set; }
        public long Errors { get; private set; }
        public long Unpriced { get; private set; }
        public long InputTokens { get; private set; }
        public long OutputTokens { get; private set; }
        public decimal CostUsd { get; private set; }
        public CanonicalUsage Units { get; private set; } = CanonicalUsage.None;
        public long ReportedCostEvents { get; private set; }
        public decimal ReportedCostUsd { get; private set; }
        public decimal ReportedCostDifferenceUsd { get; private set; }
        public decimal ReportedCostComparedUsd { get; private set; }

        public void Add(UsageFact fact)
        {
            Units += fact.Units;
            if (fact.ReportedCostUsd is { } reported)
            {
                ReportedCostEvents++;
                ReportedCostUsd += reported;
                if (fact.Priced)
                {
                    ReportedCostDifferenceUsd += reported - fact.CostUsd;
                    ReportedCostComparedUsd += fact.CostUsd;
                }
            }

            Requests++;
            Errors += fact.Succeeded ? 0 : 1;
            Unpriced += fact.Priced ? 0 : 1;
            InputTokens += fact.InputTokens;
            OutputTokens += fact.OutputTokens;
            CostUsd += fact.CostUsd;
        }

        public void Add(RollupRow row)
        {
            Units += row.Units;
            ReportedCostEvents += row.ReportedCostEvents;
            ReportedCostUsd += row.ReportedCostUsd;
            ReportedCostDifferenceUsd += row.ReportedCostDifferenceUsd;
            ReportedCostComparedUsd += row.ReportedCostComparedUsd;
            Requests += row.Requests;
            Errors += row.Errors;
            Unpriced += row.UnpricedRequests;
            InputTokens += row.InputTokens;
            OutputTokens += row.OutputTokens;
            CostUsd += row.CostUsd;
        }
    }
}

/// <summary>The recomputed rows of one tenant-day: 24 (or fewer) hours and the day itself.</summary>
public sealed record RollupDay(string TenantId, DateOnly Day, IReadOnlyList<RollupRow> HourRows, IReadOnlyList<RollupRow> DayRows);
