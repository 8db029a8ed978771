namespace LlmCost.Core.Recording;

/// <summary>
/// Records priced events exactly once per (tenant, event id), whatever user or timestamp a resend carries, and
/// returns one outcome per event, in order. An outcome that is not a duplicate means the event is durable together
/// with the intent to apply it (user-day summary, team/tenant totals, observers); applying it happens off the
/// request and exactly once.
/// </summary>
public interface IUsageEventStore
{
    Task<IReadOnlyList<RecordOutcome>> RecordAsync(IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken = default);
}

/// <summary>
/// Told about events AFTER they are durably recorded (never about a duplicate send), e.g. to count them against
/// budgets. Called off the request, AT LEAST ONCE per event (a crash or failure repeats the call with the same
/// events, also on another instance), retried until it succeeds: an implementation must be idempotent per event
/// id. Called with batches of up to a few thousand events; never with a request's cancellation token.
/// </summary>
public interface IUsageRecordedObserver
{
    Task OnRecordedAsync(IReadOnlyList<UsageEvent> recorded, CancellationToken cancellationToken = default);
}

/// <summary>
/// Told, in the request and on the instance that stored them, about events just acknowledged (never a duplicate
/// send): what the projector will apply shortly, e.g. for budgets to count at once. Synchronous and in memory; it
/// must not fail (the events are already durable).
/// </summary>
public interface IUsageAcknowledgedObserver
{
    void OnAcknowledged(IReadOnlyList<UsageEvent> acknowledged);
}

/// <summary>
/// Checked before any event of a request is stored (e.g. budgets: a <c>reservation_id</c> must be one of the
/// tenant's, made for the same user). Any problem refuses the whole request with a 4xx naming the field, and
/// nothing is written.
/// </summary>
public interface IUsageAdmissionCheck
{
    Task<IReadOnlyList<AdmissionProblem>> CheckAsync(IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken = default);
}

/// <summary>Why event <paramref name="Index"/> of a request is refused; <paramref name="Field"/> is its JSON name (e.g. "reservation_id").</summary>
public sealed record AdmissionProblem(int Index, string Field, string Message);

/// <summary>Reads recorded events and the partitions touched by recent writes (rollups, anomalies, reports, retention).</summary>
public interface IUsageEventReader
{
    /// <summary>Every event of one user on the UTC days from..to (inclusive), day by day.</summary>
    IAsyncEnumerable<UsageEvent> ReadUserDaysAsync(
        string tenantId, string userId, DateOnly fromDay, DateOnly toDay, CancellationToken cancellationToken = default);

    /// <summary>Every event of a tenant on one UTC day (all its users).</summary>
    IAsyncEnumerable<UsageEvent> ReadTenantDayAsync(string tenantId, DateOnly day, CancellationToken cancellationToken = default);

    /// <summary>The users with at least one event (or attempted write) in the tenant on that day.</summary>
    Task<IReadOnlyList<string>> ListUsersAsync(string tenantId, DateOnly day, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every partition written at or after <paramref name="since"/> (processing time, resolution one hour: a
    /// superset), whatever the events' own timestamps: how late events reach rollups.
    /// </summary>
    Task<IReadOnlyCollection<UserDay>> PartitionsTouchedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every event of a user, team or tenant with timestamp in [from, to), in no particular order: what breakdowns
    /// by app or key sum (the summaries keep neither). Reads every event of the range: callers bound it.
    /// </summary>
    async IAsyncEnumerable<UsageEvent> ReadScopeEventsAsync(
        UsageScope scope, DateTimeOffset from, DateTimeOffset to, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (DateOnly day = DateOnly.FromDateTime(from.UtcDateTime); day <= DateOnly.FromDateTime(to.UtcDateTime); day = day.AddDays(1))
        {
            IReadOnlyList<string> users = scope.Kind == UsageScopeKind.User ? [scope.Id!] : await ListUsersAsync(scope.TenantId, day, cancellationToken).ConfigureAwait(false);
            foreach (string user in users)
            {
                await foreach (UsageEvent e in ReadUserDaysAsync(scope.TenantId, user, day, day, cancellationToken).ConfigureAwait(false))
                {
                    if (e.Timestamp >= from && e.Timestamp < to && (scope.Kind != UsageScopeKind.Team || e.TeamId == scope.Id))
                    {
                        yield return e;
                    }
                }
            }
        }
    }

    /// <summary>One page of a user's events with timestamp in [from, to); pass the returned token for the next page.</summary>
    Task<UsageEventPage> ReadUserEventsPageAsync(
        string tenantId, string userId, DateTimeOffset from, DateTimeOffset to, int pageSize, string? continuationToken,
        CancellationToken cancellationToken = default);
}

/// <param name="ContinuationToken">Null when there is nothing more.</param>
public sealed record UsageEventPage(IReadOnlyList<UsageEvent> Events, string? ContinuationToken);

/// <summary>Reads the stored aggregates (written with the events, or derived idempotently from them).</summary>
public interface IUsageSummaryReader
{
    Task<DaySummary?> ReadDaySummaryAsync(string tenantId, string userId, DateOnly day, CancellationToken cancellationToken = default);

    /// <summary>The hour buckets of a user, team or tenant on the UTC days from..to (inclusive).</summary>
    Task<IReadOnlyList<UsageBucket>> ReadBucketsAsync(
        UsageScope scope, DateOnly fromDay, DateOnly toDay, CancellationToken cancellationToken = default);

    /// <summary>
    /// The same usage summed per UTC day and (team, provider, model), without the user: each bucket's
    /// <see cref="UsageBucket.HourStart"/> is the day's start and its user is empty. What a tenant-wide view by day or
    /// month needs, without reading every user's rows; the totals equal those of <see cref="ReadBucketsAsync"/>.
    /// </summary>
    async Task<IReadOnlyList<UsageBucket>> ReadDayBucketsAsync(
        UsageScope scope, DateOnly fromDay, DateOnly toDay, CancellationToken cancellationToken = default) =>
        UsageDayBuckets.Of(await ReadBucketsAsync(scope, fromDay, toDay, cancellationToken).ConfigureAwait(false));
}

/// <summary>Hour buckets summed per UTC day and (team, provider, model), the user dropped.</summary>
public static class UsageDayBuckets
{
    public static IReadOnlyList<UsageBucket> Of(IEnumerable<UsageBucket> buckets) =>
        buckets
            .GroupBy(b => (b.TenantId, Day: UsageQuery.PeriodStart(b.HourStart, UsageGranularity.Day), b.TeamId, b.Provider, b.Model))
            .Select(g => new UsageBucket(g.Key.TenantId, string.Empty, g.Key.TeamId, g.Key.Day, g.Key.Provider, g.Key.Model,
                g.Aggregate(UsageTotals.Zero, (sum, b) => sum + b.Totals)))
            .ToList();
}

/// <summary>
/// What retention and GDPR deletes must also remove besides the user-day partitions: the ingest log's idempotency
/// records (id rows: user, day, cost of each event id, kept as long as the raw event) and any pending (not yet
/// applied) copies of a user's events.
/// </summary>
public interface IUsageIngestMaintenance
{
    /// <summary>Deletes the id rows of these events (retention: together with the raw events). Missing rows are fine.</summary>
    Task DeleteIdsAsync(string tenantId, IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken = default);

    /// <summary>Deletes every id row and pending row of one user (GDPR delete); returns how many rows it deleted.</summary>
    Task<int> DeleteUserAsync(string tenantId, string userId, CancellationToken cancellationToken = default);
}
