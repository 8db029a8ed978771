using LlmCost.Core.Retention;

namespace LlmCost.Core.Recording;

/// <summary>A usage query's answer, and which part of it came from the rollups of archived days.</summary>
public sealed record UsageQueryResult(UsageReport Report, ArchivedUsageSlice? Archived);

/// <summary>
/// Usage of a user, team or tenant over [from, to): live days from the recorded summaries, days past raw retention
/// from the rollups (when retention is configured), combined into one report.
/// </summary>
public sealed class UsageQueryService(IUsageSummaryReader summaries, ArchivedUsage? archive = null)
{
    public async Task<UsageQueryResult> QueryAsync(
        UsageScope scope, DateTimeOffset from, DateTimeOffset to, UsageGranularity granularity, UsageGroupBy groupBy,
        CancellationToken cancellationToken = default)
    {
        ArchivedUsageSlice? archived = archive is null
            ? null
            : await archive.ReadAsync(scope, from, to, granularity, cancellationToken).ConfigureAwait(false);
        DateTimeOffset liveFrom = archived is null ? from : archived.Before;
        UsageReport report = UsageQuery.Aggregate([], from, to, granularity, groupBy);
        if (liveFrom < to)
        {
            IReadOnlyList<UsageBucket> buckets = await summaries.ReadBucketsAsync(
                scope, DateOnly.FromDateTime(liveFrom.UtcDateTime), DateOnly.FromDateTime(to.UtcDateTime.AddTicks(-1)), cancellationToken).ConfigureAwait(false);
            report = UsageQuery.Aggregate(buckets, liveFrom, to, granularity, groupBy);
        }

        return new UsageQueryResult(ArchivedUsage.Combine(report, archived), archived);
    }
}
