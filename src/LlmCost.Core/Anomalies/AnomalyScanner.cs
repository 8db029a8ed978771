using System.Globalization;
using LlmCost.Core.Alerts;
using LlmCost.Core.Rollups;

namespace LlmCost.Core.Anomalies;

public sealed record AnomalyScanResult(int TenantsScanned, IReadOnlyList<Alert> Alerts);

/// <summary>
/// Builds the windows from the rollups and runs the detector for every tenant with data today:
/// <list type="bullet">
/// <item>"this hour" = the last COMPLETED hour, against the same hour-of-day on the trailing days;</item>
/// <item>"today" = today so far, against whole past days. A partial day is at most a whole one, so this comparison
/// is conservative (never a false alarm from comparing a part with a whole) and exact at the end of the day.</item>
/// </list>
/// A user's baseline day counts only if the user used anything that day (that is the minimum-history gate: a user
/// seen on 3 days is not judged). Alert ids include the window, so reruns re-raise the same alerts.
/// </summary>
public sealed class AnomalyScanner(IRollupStore rollups, AnomalyDetector detector, TimeProvider timeProvider)
{
    public async Task<AnomalyScanResult> ScanAsync(IReadOnlyCollection<string> tenantIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantIds);
        var alerts = new List<Alert>();
        foreach (var tenantId in tenantIds)
        {
            alerts.AddRange(await ScanTenantAsync(tenantId, cancellationToken).ConfigureAwait(false));
        }

        return new AnomalyScanResult(tenantIds.Count, alerts);
    }

    public async Task<IReadOnlyList<Alert>> ScanTenantAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var options = detector.Options;
        var now = timeProvider.GetUtcNow();
        var today = RollupPeriods.StartOf(RollupGranularity.Day, now);
        var lastHour = RollupPeriods.StartOf(RollupGranularity.Hour, now).AddHours(-1);
        var baselineFrom = today.AddDays(-options.BaselineDays);

        var dayRows = await rollups.ReadAsync(tenantId, RollupGranularity.Day, baselineFrom, today.AddDays(1), cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        var hourRows = new List<RollupRow>();
        for (var k = 0; k <= options.BaselineDays; k++)
        {
            var hour = lastHour.AddDays(-k);
            hourRows.AddRange(await rollups.ReadAsync(tenantId, RollupGranularity.Hour, hour, hour.AddHours(1), cancellationToken: cancellationToken)
                .ConfigureAwait(false));
        }

        var alerts = new List<Alert>();
        var dayLabel = "d" + today.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        var hourLabel = "h" + lastHour.ToString("yyyyMMddHH", CultureInfo.InvariantCulture);
        var lastHourDay = RollupPeriods.StartOf(RollupGranularity.Day, lastHour);

        // One window (today so far, or the last completed hour) of one tenant or user against its baseline days.
        void Evaluate(string scope, string scopeId, string label, DateTimeOffset start, RollupRow row, IEnumerable<BaselinePoint> baseline, DateTimeOffset day) =>
            alerts.AddRange(detector.Evaluate(new MetricWindow
            {
                TenantId = tenantId,
                Scope = scope,
                ScopeId = scopeId,
                WindowLabel = label,
                WindowStart = start,
                CostUsd = row.CostUsd,
                Tokens = row.TotalTokens,
                Baseline = SelectDays(baseline, day, options),
            }));

        foreach (var (scope, dimension) in new[] { ("tenant", RollupDimensions.Tenant), ("user", RollupDimensions.User) })
        {
            var byKeyDay = dayRows.Where(r => r.Dimension == dimension).ToLookup(r => r.Key);
            var byKeyHour = hourRows.Where(r => r.Dimension == dimension).ToLookup(r => r.Key);
            foreach (var group in byKeyDay)
            {
                var activeDays = group.Where(r => r.PeriodStart < today).ToDictionary(r => r.PeriodStart);
                var todayRow = group.FirstOrDefault(r => r.PeriodStart == today);
                if (todayRow is not null)
                {
                    Evaluate(scope, group.Key, dayLabel, today, todayRow,
                        activeDays.Values.Select(r => new BaselinePoint(RollupPeriods.DayOf(r.PeriodStart), r.CostUsd, r.TotalTokens)), today);
                }

                var hours = byKeyHour[group.Key].ToDictionary(r => r.PeriodStart);
                if (hours.TryGetValue(lastHour, out var hourRow))
                {
                    // Baseline: the same hour on each earlier day the key was active at all (0 when idle that hour).
                    var points = activeDays.Keys
                        .Where(d => d < lastHourDay)
                        .Select(d =>
                        {
                            var h = d + (lastHour - lastHourDay);
                            return hours.TryGetValue(h, out var row)
                                ? new BaselinePoint(RollupPeriods.DayOf(d), row.CostUsd, row.TotalTokens)
                                : new BaselinePoint(RollupPeriods.DayOf(d), 0m, 0);
                        });
                    Evaluate(scope, group.Key, hourLabel, lastHour, hourRow, points, lastHourDay);
                }
            }
        }

        foreach (var provider in hourRows.Where(r => r.Dimension == RollupDimensions.Provider && r.PeriodStart == lastHour))
        {
            var baseline = hourRows
                .Where(r => r.Dimension == RollupDimensions.Provider && r.Key == provider.Key && r.PeriodStart < lastHour)
                .Select(r => (r.Requests, r.Errors))
                .ToList();
            if (detector.Evaluate(new ErrorRateWindow
            {
                TenantId = tenantId,
                Provider = provider.Key,
                WindowLabel = hourLabel,
                WindowStart = lastHour,
                Requests = provider.Requests,
                Errors = provider.Errors,
                Baseline = baseline,
            }) is { } errorAlert)
            {
                alerts.Add(errorAlert);
            }
        }

        foreach (var model in dayRows.Where(r => r.Dimension == RollupDimensions.Model && r.PeriodStart == today && r.UnpricedRequests > 0))
        {
            alerts.Add(detector.UnpricedModel(tenantId, model.Key, RollupPeriods.DayOf(today), model.UnpricedRequests));
        }

        foreach (var model in dayRows.Where(r => r.Dimension == RollupDimensions.Model && r.PeriodStart == today && r.ReportedCostEvents > 0))
        {
            if (detector.ReportedCostMismatch(tenantId, model.Key, dayLabel, model.ReportedCostEvents, model.ReportedCostDifferenceUsd, model.ReportedCostComparedUsd) is { } mismatch)
            {
                alerts.Add(mismatch);
            }
        }

        return alerts;
    }

    /// <summary>Trailing window, and the same day type (weekday/weekend) when there is enough of it.</summary>
    internal static IReadOnlyList<BaselinePoint> SelectDays(IEnumerable<BaselinePoint> points, DateTimeOffset windowDay, AnomalyOptions options)
    {
        var from = DateOnly.FromDateTime(windowDay.UtcDateTime).AddDays(-options.BaselineDays);
        var to = DateOnly.FromDateTime(windowDay.UtcDateTime);
        var trailing = points.Where(p => p.Day >= from && p.Day < to).OrderBy(p => p.Day).ToList();
        if (!options.SeasonalDayType)
        {
            return trailing;
        }

        var weekend = IsWeekend(to);
        var sameType = trailing.Where(p => IsWeekend(p.Day) == weekend).ToList();
        return sameType.Count >= options.MinHistory ? sameType : trailing;
    }

    private static bool IsWeekend(DateOnly day) => day.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday;
}
