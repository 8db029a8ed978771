using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Recording;
using Microsoft.Extensions.Options;

namespace LlmCost.Storage.Recording;

/// <summary>Reads events, day summaries, hour buckets (user, team, tenant) and the touched-partition index.</summary>
/// <remarks>
/// Read-your-writes: every read first waits (at most <see cref="UsageIngestOptions.ReadBarrierTimeout"/>) until this
/// instance's projector has applied every event this instance acknowledged before the read started. Events
/// acknowledged by another instance are visible once its projector (or a sweep) applied them: within seconds
/// normally, within SweepAge + SweepInterval after an instance died.
/// </remarks>
public sealed class TableUsageReader(LlmCostStorage storage, UsageProjectionTracker projection, IOptions<UsageIngestOptions> options)
    : IUsageEventReader, IUsageSummaryReader
{
    /// <summary>Longest range a single summary read covers (one partition query per day).</summary>
    public const int MaxDays = 400;

    private const int ParallelDays = 8;

    private TableClient Events => storage.Table(UsageTables.Events);

    private Task BarrierAsync(CancellationToken cancellationToken) =>
        projection.WaitForAppliedAsync(options.Value.ReadBarrierTimeout, cancellationToken);

    public async IAsyncEnumerable<UsageEvent> ReadUserDaysAsync(
        string tenantId, string userId, DateOnly fromDay, DateOnly toDay, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await BarrierAsync(cancellationToken).ConfigureAwait(false);
        for (DateOnly day = fromDay; day <= toDay; day = day.AddDays(1))
        {
            string filter = TableClient.CreateQueryFilter(
                $"PartitionKey eq {StorageKeys.UserDayPartition(tenantId, userId, day)} and Kind eq {UsageTables.KindEvent}");
            await foreach (TableEntity row in Events.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                yield return UsageRows.ToEvent(row);
            }
        }
    }

    public async IAsyncEnumerable<UsageEvent> ReadTenantDayAsync(
        string tenantId, DateOnly day, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await BarrierAsync(cancellationToken).ConfigureAwait(false);
        foreach (string userId in await ListUsersAsync(tenantId, day, cancellationToken).ConfigureAwait(false))
        {
            await foreach (UsageEvent e in ReadUserDaysAsync(tenantId, userId, day, day, cancellationToken).ConfigureAwait(false))
            {
                yield return e;
            }
        }
    }

    public async IAsyncEnumerable<UsageEvent> ReadScopeEventsAsync(
        UsageScope scope, DateTimeOffset from, DateTimeOffset to, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await BarrierAsync(cancellationToken).ConfigureAwait(false);
        if (scope.Kind == UsageScopeKind.User)
        {
            for (DateOnly day = DateOnly.FromDateTime(from.UtcDateTime); day <= DateOnly.FromDateTime(to.UtcDateTime); day = day.AddDays(1))
            {
                string filter = TableClient.CreateQueryFilter(
                    $"PartitionKey eq {StorageKeys.UserDayPartition(scope.TenantId, scope.Id!, day)} and Kind eq {UsageTables.KindEvent} and OccurredAt ge {from} and OccurredAt lt {to}");
                await foreach (TableEntity row in Events.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
                {
                    yield return UsageRows.ToEvent(row);
                }
            }

            yield break;
        }

        // One query over the tenant's partitions ({tenant}|{user}|{day}) filtered by time on the server, rather than
        // one query per user and day (a thousand users over a month would be 30,000 round trips).
        string tenantFrom = StorageKeys.Compose(scope.TenantId, string.Empty);
        string tenantTo = scope.TenantId + "}";
        string range = scope.Kind == UsageScopeKind.Team
            ? TableClient.CreateQueryFilter($"PartitionKey ge {tenantFrom} and PartitionKey lt {tenantTo} and Kind eq {UsageTables.KindEvent} and OccurredAt ge {from} and OccurredAt lt {to} and TeamId eq {scope.Id}")
            : TableClient.CreateQueryFilter($"PartitionKey ge {tenantFrom} and PartitionKey lt {tenantTo} and Kind eq {UsageTables.KindEvent} and OccurredAt ge {from} and OccurredAt lt {to}");
        await foreach (TableEntity row in Events.QueryAsync<TableEntity>(range, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            yield return UsageRows.ToEvent(row);
        }
    }

    public async Task<IReadOnlyList<string>> ListUsersAsync(string tenantId, DateOnly day, CancellationToken cancellationToken = default)
    {
        await BarrierAsync(cancellationToken).ConfigureAwait(false);
        var users = new List<string>();
        string filter = TableClient.CreateQueryFilter($"PartitionKey eq {StorageKeys.Compose(tenantId, StorageKeys.Day(day))}");
        await foreach (TableEntity row in storage.Table(UsageTables.TenantDays)
            .QueryAsync<TableEntity>(filter, select: ["RowKey"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            users.Add(row.RowKey);
        }

        return users;
    }

    public async Task<IReadOnlyCollection<UserDay>> PartitionsTouchedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        await BarrierAsync(cancellationToken).ConfigureAwait(false);
        var touched = new HashSet<UserDay>();
        string filter = TableClient.CreateQueryFilter($"PartitionKey ge {UsageTables.TouchedPartition(since)}");
        await foreach (TableEntity row in storage.Table(UsageTables.Touched)
            .QueryAsync<TableEntity>(filter, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (StorageKeys.TryParseUserDayPartition(row.RowKey, out string tenant, out string user, out DateOnly day))
            {
                touched.Add(new UserDay(tenant, user, day));
            }
        }

        return touched;
    }

    public async Task<UsageEventPage> ReadUserEventsPageAsync(
        string tenantId, string userId, DateTimeOffset from, DateTimeOffset to, int pageSize, string? continuationToken,
        CancellationToken cancellationToken = default)
    {
        await BarrierAsync(cancellationToken).ConfigureAwait(false);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        DateOnly day = DateOnly.FromDateTime(from.UtcDateTime);
        DateOnly lastDay = DateOnly.FromDateTime(to.UtcDateTime);
        string? tableToken = null;
        if (continuationToken is not null)
        {
            if (!TryDecode(continuationToken, out DateOnly tokenDay, out tableToken) || tokenDay < day || tokenDay > lastDay)
            {
                throw new FormatException("invalid continuation token");
            }

            day = tokenDay;
        }

        var events = new List<UsageEvent>(pageSize);
        for (; day <= lastDay; day = day.AddDays(1), tableToken = null)
        {
            string filter = TableClient.CreateQueryFilter(
                $"PartitionKey eq {StorageKeys.UserDayPartition(tenantId, userId, day)} and Kind eq {UsageTables.KindEvent} and OccurredAt ge {from} and OccurredAt lt {to}");
            await foreach (Page<TableEntity> page in Events.QueryAsync<TableEntity>(filter, maxPerPage: pageSize - events.Count, cancellationToken: cancellationToken)
                .AsPages(tableToken, pageSize - events.Count).ConfigureAwait(false))
            {
                events.AddRange(page.Values.Select(UsageRows.ToEvent));
                if (events.Count >= pageSize)
                {
                    string? next = page.ContinuationToken is not null ? Encode(day, page.ContinuationToken)
                        : day < lastDay ? Encode(day.AddDays(1), null)
                        : null;
                    return new UsageEventPage(events, next);
                }

                if (page.ContinuationToken is null)
                {
                    break;
                }
            }
        }

        return new UsageEventPage(events, null);
    }

    public async Task<DaySummary?> ReadDaySummaryAsync(string tenantId, string userId, DateOnly day, CancellationToken cancellationToken = default)
    {
        await BarrierAsync(cancellationToken).ConfigureAwait(false);
        NullableResponse<TableEntity> row = await Events.GetEntityIfExistsAsync<TableEntity>(
            StorageKeys.UserDayPartition(tenantId, userId, day), UsageTables.DayRowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        return row.HasValue ? new DaySummary(tenantId, userId, day, UsageRows.Totals(row.Value!)) : null;
    }

    public async Task<IReadOnlyList<UsageBucket>> ReadBucketsAsync(
        UsageScope scope, DateOnly fromDay, DateOnly toDay, CancellationToken cancellationToken = default)
    {
        return await ReadDaysAsync(fromDay, toDay, day => ReadHourBucketsAsync(scope, day, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<UsageBucket>> ReadDayBucketsAsync(
        UsageScope scope, DateOnly fromDay, DateOnly toDay, CancellationToken cancellationToken = default)
    {
        if (scope.Kind == UsageScopeKind.User)
        {
            // A user's day is one partition of at most 24 x (team, provider, model) buckets already.
            return UsageDayBuckets.Of(await ReadBucketsAsync(scope, fromDay, toDay, cancellationToken).ConfigureAwait(false));
        }

        return await ReadDaysAsync(fromDay, toDay, day => ReadDayRowsAsync(scope, day, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads each day of [fromDay, toDay] (at most <see cref="MaxDays"/>), <see cref="ParallelDays"/> at a time, in day order.</summary>
    private async Task<IReadOnlyList<UsageBucket>> ReadDaysAsync<TDay>(
        DateOnly fromDay, DateOnly toDay, Func<DateOnly, Task<TDay>> readDay, CancellationToken cancellationToken)
        where TDay : IEnumerable<UsageBucket>
    {
        await BarrierAsync(cancellationToken).ConfigureAwait(false);
        int days = toDay.DayNumber - fromDay.DayNumber + 1;
        if (days < 1 || days > MaxDays)
        {
            throw new ArgumentOutOfRangeException(nameof(toDay), $"a summary read covers 1-{MaxDays} days");
        }

        var perDay = new TDay[days];
        using var gate = new SemaphoreSlim(ParallelDays);
        await Task.WhenAll(Enumerable.Range(0, days).Select(async i =>
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                perDay[i] = await readDay(fromDay.AddDays(i)).ConfigureAwait(false);
            }
            finally
            {
                gate.Release();
            }
        })).ConfigureAwait(false);
        return perDay.SelectMany(d => d).ToList();
    }

    /// <summary>
    /// A team or tenant day from its day rows (one short query); a partition without the header was written before
    /// day rows existed (or has nothing): its copies are summed instead.
    /// </summary>
    private async Task<IReadOnlyList<UsageBucket>> ReadDayRowsAsync(UsageScope scope, DateOnly day, CancellationToken cancellationToken)
    {
        string partition = scope.Kind == UsageScopeKind.Team
            ? UsageScopeProjector.TeamPartition(scope.TenantId, scope.Id!, day)
            : UsageScopeProjector.TenantPartition(scope.TenantId, day);
        string filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {partition} and RowKey ge {UsageScopeProjector.HeaderRowKey} and RowKey lt {UsageScopeProjector.AggregateRowsEnd}");
        var buckets = new List<UsageBucket>();
        bool header = false;
        DateTimeOffset dayStart = new(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        await foreach (TableEntity row in storage.Table(UsageTables.Scopes).QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (row.RowKey == UsageScopeProjector.HeaderRowKey)
            {
                header = true;
                continue;
            }

            BucketKey key = UsageRows.BucketKeyOf(row);
            buckets.Add(new UsageBucket(scope.TenantId, string.Empty, key.Team.Length == 0 ? null : key.Team, dayStart, key.Provider, key.Model, UsageRows.Totals(row)));
        }

        return header ? buckets : UsageDayBuckets.Of(await ReadHourBucketsAsync(scope, day, cancellationToken).ConfigureAwait(false));
    }

    private async Task<List<UsageBucket>> ReadHourBucketsAsync(UsageScope scope, DateOnly day, CancellationToken cancellationToken)
    {
        (TableClient table, string filter) = scope.Kind switch
        {
            UsageScopeKind.User => (Events, TableClient.CreateQueryFilter(
                $"PartitionKey eq {StorageKeys.UserDayPartition(scope.TenantId, scope.Id!, day)} and RowKey ge {UsageTables.BucketPrefix} and RowKey lt {UsageTables.BucketPrefixEnd}")),
            UsageScopeKind.Team => (storage.Table(UsageTables.Scopes), TableClient.CreateQueryFilter(
                $"PartitionKey eq {UsageScopeProjector.TeamPartition(scope.TenantId, scope.Id!, day)}")),
            UsageScopeKind.Tenant => (storage.Table(UsageTables.Scopes), TableClient.CreateQueryFilter(
                $"PartitionKey eq {UsageScopeProjector.TenantPartition(scope.TenantId, day)}")),
            _ => throw new ArgumentOutOfRangeException(nameof(scope)),
        };

        var buckets = new List<UsageBucket>();
        DateTimeOffset dayStart = new(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        await foreach (TableEntity row in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (scope.Kind != UsageScopeKind.User && row.RowKey.StartsWith('|'))
            {
                continue; // the partition's header and day rows (sums of the copies read here)
            }

            BucketKey key = UsageRows.BucketKeyOf(row);
            buckets.Add(new UsageBucket(
                scope.TenantId,
                row.GetString("UserId") ?? scope.Id ?? string.Empty,
                key.Team.Length == 0 ? null : key.Team,
                dayStart.AddHours(key.Hour),
                key.Provider,
                key.Model,
                UsageRows.Totals(row)));
        }

        return buckets;
    }

    private static string Encode(DateOnly day, string? tableToken) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new[] { StorageKeys.Day(day), tableToken })))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static bool TryDecode(string token, out DateOnly day, out string? tableToken)
    {
        day = default;
        tableToken = null;
        try
        {
            string base64 = token.Replace('-', '+').Replace('_', '/');
            base64 = base64.PadRight(base64.Length + ((4 - (base64.Length % 4)) % 4), '=');
            string?[]? parts = JsonSerializer.Deserialize<string?[]>(Encoding.UTF8.GetString(Convert.FromBase64String(base64)));
            if (parts is not { Length: 2 } || parts[0] is null || !StorageKeys.TryParseDay(parts[0]!, out day))
            {
                return false;
            }

            tableToken = parts[1];
            return true;
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return false;
        }
    }
}
