namespace LlmCost.Core.Recording;

/// <summary>
/// Records priced events exactly once. Events are grouped by partition (tenant|user|UTC day); each partition's
/// events, its day summary and hour buckets, and any <see cref="IPartitionContributor"/> rows are written in ONE
/// entity-group transaction. Returns one outcome per event, in order.
/// </summary>
public interface IUsageEventStore
{
    Task<IReadOnlyList<RecordOutcome>> RecordAsync(IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken = default);
}

/// <summary>
/// Told about events AFTER they are durably recorded (never about duplicates), e.g. to raise alerts. Called once
/// per recording batch, on the request path: keep it quick. A failure is logged; the events stay recorded.
/// </summary>
public interface IUsageRecordedObserver
{
    Task OnRecordedAsync(IReadOnlyList<UsageEvent> recorded, CancellationToken cancellationToken = default);
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

/// <summary>
/// Adds rows to the SAME entity-group transaction that records a batch of events in one partition, so that a
/// side effect (e.g. settling a budget reservation) commits atomically with the events or not at all.
/// </summary>
/// <remarks>
/// Called once per transaction attempt with the events that are about to be added (duplicates already removed);
/// when the attempt loses a race (412/409/404) it is called again with fresh reads, so it must be a pure function
/// of what it reads. Its rows must use row keys starting with <see cref="PartitionRowOperation.RowKeyPrefix"/>
/// (kept apart from event ids and summary rows) and at most <see cref="PartitionRowOperation.MaxPerBatch"/> rows.
/// Property values: string, bool, int, long, double, DateTimeOffset, Guid (decimals as invariant strings).
/// </remarks>
public interface IPartitionContributor
{
    Task<IReadOnlyList<PartitionRowOperation>> ContributeAsync(
        PartitionBatch batch, IPartitionRowReader rows, CancellationToken cancellationToken = default);
}

/// <summary>The events about to be recorded in one partition.</summary>
public sealed record PartitionBatch(string TenantId, string UserId, DateOnly Day, IReadOnlyList<UsageEvent> Events);

/// <summary>Reads rows of the partition being written (for contributors that need the current state and ETag).</summary>
public interface IPartitionRowReader
{
    Task<PartitionRow?> ReadAsync(string rowKey, CancellationToken cancellationToken = default);

    /// <summary>Rows whose key starts with <paramref name="rowKeyPrefix"/> (which must start with <see cref="PartitionRowOperation.RowKeyPrefix"/>).</summary>
    Task<IReadOnlyList<PartitionRow>> QueryAsync(string rowKeyPrefix, CancellationToken cancellationToken = default);
}

/// <summary>A storage-neutral row: key, properties and the version (ETag) a conditional write must present.</summary>
public sealed record PartitionRow(string RowKey, IReadOnlyDictionary<string, object?> Properties, string ETag);

public enum PartitionRowOperationKind
{
    /// <summary>Insert; fails the transaction (409 → retried) if the row exists.</summary>
    Add,

    /// <summary>Replace the whole row; with <see cref="PartitionRowOperation.ETag"/> only if unchanged.</summary>
    Replace,

    /// <summary>Merge properties; with <see cref="PartitionRowOperation.ETag"/> only if unchanged.</summary>
    Merge,

    /// <summary>Delete; with <see cref="PartitionRowOperation.ETag"/> only if unchanged.</summary>
    Delete,

    UpsertReplace,
    UpsertMerge,
}

/// <param name="ETag">The version read via <see cref="IPartitionRowReader"/>; null = unconditional ("*").</param>
public sealed record PartitionRowOperation(
    PartitionRowOperationKind Kind,
    string RowKey,
    IReadOnlyDictionary<string, object?> Properties,
    string? ETag = null)
{
    /// <summary>Contributed rows live under this prefix: "~x|" (events never start with '~'; summaries use "~day" and "~b|").</summary>
    public const string RowKeyPrefix = "~x|";

    public const int MaxPerBatch = 20;
}

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
}
