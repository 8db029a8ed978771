using LlmCost.Core.Recording;
using LlmCost.Core.Rollups;

namespace LlmCost.Core.Retention;

/// <summary>The part of a usage query that falls on archived days, answered from the rollups.</summary>
/// <param name="Before">Days before this instant are archived (their raw events and summaries are gone).</param>
/// <param name="Report">Totals and series of the archived part (series without a provider/model split).</param>
public sealed record ArchivedUsageSlice(DateTimeOffset Before, UsageReport Report);

/// <summary>
/// Usage queries over archived days. Retention deletes raw events and their day summaries after
/// <see cref="RetentionOptions.RawEventDays"/>; the rollups keep the totals (hours for
/// <see cref="RetentionOptions.HourRollupDays"/>, days for ever). A query reaching back past the cutoff gets those
/// days from the rollups and is told so, never a silent 0. The rollups keep events, cost, input and output tokens,
/// errors and unpriced events per user, team and tenant, but no cache or reasoning token classes and no
/// provider/model split per user or team: those are reported as not kept.
/// </summary>
public sealed class ArchivedUsage(IRollupStore rollups, RetentionOptions options, TimeProvider time)
{
    /// <summary>What rollups do not keep, named in every answer that used them.</summary>
    public static IReadOnlyList<string> NotKept { get; } = ["cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "provider and model split"];

    /// <summary>The archived part of [from, to) for <paramref name="scope"/>, or null when nothing of it is archived.</summary>
    public async Task<ArchivedUsageSlice?> ReadAsync(
        UsageScope scope, DateTimeOffset from, DateTimeOffset to, UsageGranularity granularity, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        var before = RollupPeriods.StartOfDay(options.RawCutoff(now));
        if (from >= before)
        {
            return null;
        }

        var end = to < before ? to : before;
        var (dimension, key) = scope.Kind switch
        {
            UsageScopeKind.User => (RollupDimensions.User, scope.Id!),
            UsageScopeKind.Team => (RollupDimensions.Team, scope.Id!),
            _ => (RollupDimensions.Tenant, scope.TenantId),
        };

        // Hour rows where they are kept (exact for any from/to), whole days before that.
        var hourCutoff = RollupPeriods.StartOfDay(options.HourRollupCutoff(now));
        var rows = new List<RollupRow>();
        if (from < hourCutoff)
        {
            rows.AddRange(await rollups.ReadAsync(scope.TenantId, RollupGranularity.Day, RollupPeriods.StartOf(RollupGranularity.Day, from),
                end < hourCutoff ? end : hourCutoff, dimension, cancellationToken).ConfigureAwait(false));
        }

        if (end > hourCutoff)
        {
            rows.AddRange(await rollups.ReadAsync(scope.TenantId, RollupGranularity.Hour, from > hourCutoff ? from : hourCutoff, end, dimension, cancellationToken)
                .ConfigureAwait(false));
        }

        var buckets = rows.Where(r => string.Equals(r.Key, key, StringComparison.Ordinal)).Select(r => new UsageBucket(
            scope.TenantId, scope.Kind == UsageScopeKind.User ? key : string.Empty, scope.Kind == UsageScopeKind.Team ? key : null,
            r.PeriodStart < from ? from : r.PeriodStart, string.Empty, string.Empty, new UsageTotals
            {
                Events = r.Requests,
                CostUsd = r.CostUsd,
                InputTokens = r.InputTokens,
                OutputTokens = r.OutputTokens,
                UnpricedEvents = r.UnpricedRequests,
                ErrorEvents = r.Errors,
            }));
        return new ArchivedUsageSlice(before, UsageQuery.Aggregate(buckets, from, end, granularity, UsageGroupBy.None));
    }

    /// <summary>The live report (days not archived) and the archived slice as one answer, series in time order.</summary>
    public static UsageReport Combine(UsageReport live, ArchivedUsageSlice? archived)
    {
        ArgumentNullException.ThrowIfNull(live);
        if (archived is null)
        {
            return live;
        }

        return new UsageReport(
            live.Total + archived.Report.Total,
            [.. archived.Report.Series.Concat(live.Series).OrderBy(p => p.PeriodStart)]);
    }
}
