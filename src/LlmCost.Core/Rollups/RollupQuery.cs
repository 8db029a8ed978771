using System.Globalization;
using LlmCost.Core.Recording;

namespace LlmCost.Core.Rollups;

/// <summary>Rollup rows of whole UTC days [From, To], optionally of one dimension.</summary>
public sealed record RollupQuery(RollupGranularity Granularity, DateOnly From, DateOnly To, string? Dimension)
{
    /// <summary>Hour rollups are many rows a day: one request reads at most this many days of them.</summary>
    public const int MaxHourDays = 31;

    /// <summary>Reads the wire fields (granularity, from, to as yyyy-MM-dd, dimension), every problem at once.</summary>
    public static Validated<RollupQuery> Parse(string? granularity, string? from, string? to, string? dimension)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        RollupGranularity? g = granularity switch { "hour" => RollupGranularity.Hour, "day" => RollupGranularity.Day, "month" => RollupGranularity.Month, _ => null };
        if (g is null)
        {
            errors["granularity"] = ["granularity must be hour, day or month"];
        }

        if (!DateOnly.TryParseExact(from, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var fromDay))
        {
            errors["from"] = ["from must be a yyyy-MM-dd date"];
        }
        else if (!QueryDates.InRange(fromDay))
        {
            errors["from"] = [$"from {QueryDates.Problem}"];
        }

        if (!DateOnly.TryParseExact(to, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var toDay) || toDay < fromDay)
        {
            errors["to"] = ["to must be a yyyy-MM-dd date, not before from"];
        }
        else if (!QueryDates.InRange(toDay))
        {
            errors["to"] = [$"to {QueryDates.Problem}"];
        }
        else if (g == RollupGranularity.Hour && toDay.DayNumber - fromDay.DayNumber > MaxHourDays)
        {
            errors["to"] = [$"hour rollups: at most {MaxHourDays} days per request"];
        }

        if (dimension is not null && !RollupDimensions.All.Contains(dimension))
        {
            errors["dimension"] = [$"dimension must be one of {string.Join(", ", RollupDimensions.All)}"];
        }

        return errors.Count > 0
            ? Validated<RollupQuery>.Fail(errors)
            : Validated<RollupQuery>.Ok(new RollupQuery(g!.Value, fromDay, toDay, dimension));
    }
}

/// <summary>Reading a tenant's rollups: the rows of a query in a stable order (period, dimension, key).</summary>
public sealed class RollupQueryService(IRollupStore rollups)
{
    public async Task<IReadOnlyList<RollupRow>> ReadAsync(string tenantId, RollupQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var rows = await rollups.ReadAsync(
            tenantId, query.Granularity, RollupPeriods.StartOfDay(query.From), RollupPeriods.StartOfDay(query.To.AddDays(1)), query.Dimension, cancellationToken).ConfigureAwait(false);
        return rows.OrderBy(r => r.PeriodStart).ThenBy(r => r.Dimension, StringComparer.Ordinal).ThenBy(r => r.Key, StringComparer.Ordinal).ToList();
    }
}
