namespace LlmCost.Core.Recording;

/// <summary>What a breakdown groups by: the dimensions every hour bucket carries, and the app and key events carry.</summary>
public enum UsageDimension
{
    Provider,
    Model,
    Team,
    User,
    App,
    Key,
}

/// <summary>Narrows the buckets of a scope: each non-null field must match exactly.</summary>
public sealed record UsageFilter(string? TeamId = null, string? Provider = null, string? Model = null, string? App = null)
{
    public bool Matches(UsageBucket bucket)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        return (TeamId is null || string.Equals(bucket.TeamId, TeamId, StringComparison.Ordinal))
            && (Provider is null || string.Equals(bucket.Provider, Provider, StringComparison.Ordinal))
            && (Model is null || string.Equals(bucket.Model, Model, StringComparison.Ordinal))
            && (App is null || string.Equals(bucket.App, App, StringComparison.Ordinal));
    }
}

/// <summary>One group's totals and its share of the total cost (null when the total cost is zero).</summary>
public sealed record UsageGroup(string? Key, UsageTotals Totals, decimal? CostShare);

/// <summary>One period of one group.</summary>
public sealed record UsageGroupPoint(DateTimeOffset PeriodStart, string? Key, UsageTotals Totals);

public sealed record UsageBreakdownReport(UsageTotals Total, IReadOnlyList<UsageGroup> Groups, IReadOnlyList<UsageGroupPoint> Series);

/// <summary>
/// Sums hour buckets by one dimension, overall and per period, with each group's share of the total. The total is
/// the same sum <see cref="UsageQuery.Aggregate"/> makes of the same buckets, so a breakdown reconciles with the usage
/// query to the last decimal, and a client never has to add money up itself. Pure, so it is tested without storage.
/// </summary>
public static class UsageBreakdown
{
    /// <summary>Digits a share keeps: enough that shares of cent amounts still add up to 1 within a millionth.</summary>
    public const int ShareDecimals = 6;

    /// <param name="zone">Whose hours, days and months the series uses (UTC when null); the buckets must be aligned to its hours.</param>
    public static UsageBreakdownReport Aggregate(
        IEnumerable<UsageBucket> buckets, DateTimeOffset from, DateTimeOffset to, UsageGranularity granularity,
        UsageDimension dimension, UsageFilter filter, TimeZoneInfo? zone = null)
    {
        ArgumentNullException.ThrowIfNull(buckets);
        ArgumentNullException.ThrowIfNull(filter);
        UsageTotals total = UsageTotals.Zero;
        var groups = new Dictionary<string, (string? Key, UsageTotals Totals)>(StringComparer.Ordinal);
        var series = new Dictionary<(DateTimeOffset, string), (string? Key, UsageTotals Totals)>();
        foreach (UsageBucket bucket in buckets)
        {
            if (bucket.HourStart < from || bucket.HourStart >= to || !filter.Matches(bucket))
            {
                continue;
            }

            string? key = KeyOf(bucket, dimension);
            // A bucket without a team is its own group, told apart from a team that happens to be named "".
            string slot = key is null ? "\0" : "=" + key;
            total += bucket.Totals;
            groups[slot] = groups.TryGetValue(slot, out var g) ? (key, g.Totals + bucket.Totals) : (key, bucket.Totals);
            var point = (UsageQuery.PeriodStart(bucket.HourStart, granularity, zone), slot);
            series[point] = series.TryGetValue(point, out var p) ? (key, p.Totals + bucket.Totals) : (key, bucket.Totals);
        }

        return new UsageBreakdownReport(
            total,
            groups.Values
                .OrderByDescending(g => g.Totals.CostUsd).ThenByDescending(g => g.Totals.Events).ThenBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => new UsageGroup(g.Key, g.Totals, total.CostUsd == 0m ? null : Math.Round(g.Totals.CostUsd / total.CostUsd, ShareDecimals, MidpointRounding.ToEven)))
                .ToList(),
            series
                .OrderBy(p => p.Key.Item1).ThenBy(p => p.Value.Key, StringComparer.Ordinal)
                .Select(p => new UsageGroupPoint(p.Key.Item1, p.Value.Key, p.Value.Totals))
                .ToList());
    }

    /// <summary>Whether a breakdown needs the events themselves: the summaries keep no app or key.</summary>
    public static bool NeedsEvents(UsageDimension dimension, UsageFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        return dimension is UsageDimension.App or UsageDimension.Key || filter.App is not null;
    }

    public static bool TryParseDimension(string? text, out UsageDimension dimension)
    {
        (bool ok, dimension) = text switch
        {
            null or "" or "model" => (true, UsageDimension.Model),
            "provider" => (true, UsageDimension.Provider),
            "team" => (true, UsageDimension.Team),
            "user" => (true, UsageDimension.User),
            "app" => (true, UsageDimension.App),
            "key" => (true, UsageDimension.Key),
            _ => (false, UsageDimension.Model),
        };
        return ok;
    }

    private static string? KeyOf(UsageBucket bucket, UsageDimension dimension) => dimension switch
    {
        UsageDimension.Provider => bucket.Provider,
        // Two providers can serve a model of the same name (openai and azure gpt-4o): the key keeps them apart.
        UsageDimension.Model => bucket.Provider + "/" + bucket.Model,
        UsageDimension.Team => string.IsNullOrEmpty(bucket.TeamId) ? null : bucket.TeamId,
        UsageDimension.User => bucket.UserId,
        UsageDimension.App => bucket.App,
        UsageDimension.Key => bucket.KeyId,
        _ => throw new ArgumentOutOfRangeException(nameof(dimension), dimension, null),
    };
}
