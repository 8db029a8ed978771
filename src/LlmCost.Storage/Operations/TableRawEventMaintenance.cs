using System.Runtime.CompilerServices;
using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Recording;
using LlmCost.Core.Retention;
using LlmCost.Core.Rollups;
using LlmCost.Storage.Recording;

namespace LlmCost.Storage.Operations;

/// <summary>
/// Retention and GDPR deletes over the usage tables (layout: <see cref="UsageTables"/>). A user-day partition
/// (events, day summary, hour buckets, contributed rows) is deleted whole, in 100-row transactions; then the
/// user's derived rows in <c>usagescopes</c> and the tenant-day index row. Every step is idempotent, so a retried
/// or crashed run simply finishes the job.
/// </summary>
public sealed class TableRawEventMaintenance(
    LlmCostStorage storage, IUsageEventReader reader, IUsageIngestMaintenance ingestLog, UsageScopeProjector scopes) : IRawEventMaintenance
{
    private TableClient Events => storage.Table(UsageTables.Events);
    private TableClient Scopes => storage.Table(UsageTables.Scopes);
    private TableClient TenantDays => storage.Table(UsageTables.TenantDays);

    public async Task<IReadOnlyList<TenantDay>> DaysBeforeAsync(DateOnly cutoff, int max, CancellationToken cancellationToken = default)
    {
        // The tenant-day index: PartitionKey {tenant}|{yyyyMMdd}. A daily job; a scan of the index is acceptable.
        var days = new HashSet<TenantDay>();
        await foreach (var row in TenantDays.QueryAsync<TableEntity>(select: ["PartitionKey"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var cut = row.PartitionKey.LastIndexOf('|');
            if (cut > 0 && StorageKeys.TryParseDay(row.PartitionKey[(cut + 1)..], out var day) && day < cutoff)
            {
                days.Add(new TenantDay(row.PartitionKey[..cut], day));
            }
        }

        return [.. days.OrderBy(d => d.Day).ThenBy(d => d.TenantId, StringComparer.Ordinal).Take(max)];
    }

    public async Task<int> DeleteDayAsync(string tenantId, DateOnly day, CancellationToken cancellationToken = default)
    {
        var events = 0;
        foreach (var userId in await reader.ListUsersAsync(tenantId, day, cancellationToken).ConfigureAwait(false))
        {
            events += await DeleteUserDayAsync(tenantId, userId, day, cancellationToken).ConfigureAwait(false);
        }

        return events;
    }

    public async IAsyncEnumerable<UsageEvent> ReadDayEventsAsync(string tenantId, DateOnly day, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var e in reader.ReadTenantDayAsync(tenantId, day, cancellationToken).ConfigureAwait(false))
        {
            // The tenant-day index is a superset (written before the events): keep exactly the day's events.
            if (e.UtcDay == day)
            {
                yield return e;
            }
        }
    }

    public async IAsyncEnumerable<UsageEvent> ReadUserAsync(string tenantId, string userId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var day in await UserDaysAsync(tenantId, userId, cancellationToken).ConfigureAwait(false))
        {
            await foreach (var e in reader.ReadUserDaysAsync(tenantId, userId, day, day, cancellationToken).ConfigureAwait(false))
            {
                yield return e;
            }
        }
    }

    public async Task<IReadOnlyList<TenantDay>> DeleteUserAsync(string tenantId, string userId, CancellationToken cancellationToken = default)
    {
        var days = await UserDaysAsync(tenantId, userId, cancellationToken).ConfigureAwait(false);
        foreach (var day in days)
        {
            await DeleteUserDayAsync(tenantId, userId, day, cancellationToken).ConfigureAwait(false);
        }

        return [.. days.Select(d => new TenantDay(tenantId, d))];
    }

    /// <summary>Days with a tenant-day index row for the user (the index is written before the events: a superset).</summary>
    private async Task<List<DateOnly>> UserDaysAsync(string tenantId, string userId, CancellationToken cancellationToken)
    {
        var from = StorageKeys.Compose(tenantId, string.Empty);
        var to = tenantId + "}";
        var filter = TableClient.CreateQueryFilter($"PartitionKey ge {from} and PartitionKey lt {to} and RowKey eq {userId}");
        var days = new List<DateOnly>();
        await foreach (var row in TenantDays.QueryAsync<TableEntity>(filter, select: ["PartitionKey"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (StorageKeys.TryParseDay(row.PartitionKey[(row.PartitionKey.LastIndexOf('|') + 1)..], out var day))
            {
                days.Add(day);
            }
        }

        return days;
    }

    private async Task<int> DeleteUserDayAsync(string tenantId, string userId, DateOnly day, CancellationToken cancellationToken)
    {
        var partition = StorageKeys.UserDayPartition(tenantId, userId, day);
        var eventIds = (await DeletePartitionRowsAsync(Events, TableClient.CreateQueryFilter($"PartitionKey eq {partition}"), cancellationToken).ConfigureAwait(false))
            .Where(r => r.GetString("Kind") == UsageTables.KindEvent)
            .Select(r => r.RowKey)
            .ToList();

        // The ingest log's id rows live as long as the raw events they guard (the stated exactly-once window).
        await ingestLog.DeleteIdsAsync(tenantId, eventIds, cancellationToken).ConfigureAwait(false);

        // Derived copies of the user's buckets: the tenant partition and any team partition of that day, taken out of
        // those partitions' day rows in the same transactions.
        var dayKey = StorageKeys.Day(day);
        await scopes.RemoveUserAsync(UsageScopeProjector.TenantPartition(tenantId, day), userId, cancellationToken).ConfigureAwait(false);
        var teamFrom = StorageKeys.Compose(tenantId, "team", string.Empty);
        var teamTo = StorageKeys.Compose(tenantId, "team") + "}";
        var teamPartitions = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var row in Scopes.QueryAsync<TableEntity>(
            TableClient.CreateQueryFilter($"PartitionKey ge {teamFrom} and PartitionKey lt {teamTo} and RowKey ge {userId + "|"} and RowKey lt {userId + "}"}"),
            select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (row.PartitionKey.EndsWith("|" + dayKey, StringComparison.Ordinal))
            {
                teamPartitions.Add(row.PartitionKey);
            }
        }

        foreach (var partitionKey in teamPartitions)
        {
            await scopes.RemoveUserAsync(partitionKey, userId, cancellationToken).ConfigureAwait(false);
        }

        // Last: the index row, so a crash before here leaves the day findable for the retry.
        await TenantDays.DeleteEntityAsync(StorageKeys.Compose(tenantId, dayKey), userId, ETag.All, cancellationToken).ConfigureAwait(false);

        return eventIds.Count;
    }

    /// <summary>Deletes every row the filter selects; returns them (keys and Kind).</summary>
    private static async Task<List<TableEntity>> DeletePartitionRowsAsync(TableClient table, string filter, CancellationToken cancellationToken)
    {
        var rows = new List<TableEntity>();
        await foreach (var row in table.QueryAsync<TableEntity>(filter, select: ["PartitionKey", "RowKey", "Kind"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            rows.Add(row);
        }

        foreach (var group in rows.GroupBy(r => r.PartitionKey))
        {
            await SubmitDeletesAsync(table, group.ToList(), cancellationToken).ConfigureAwait(false);
        }

        return rows;
    }

    private static async Task SubmitDeletesAsync(TableClient table, List<TableEntity> rows, CancellationToken cancellationToken)
    {
        foreach (var chunk in rows.Chunk(100))
        {
            var actions = chunk.Select(r => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(r.PartitionKey, r.RowKey), ETag.All)).ToList();
            bool submitted;
            try
            {
                submitted = (await OptimisticConcurrency.SubmitAsync(table, actions, cancellationToken).ConfigureAwait(false)).Succeeded;
            }
            catch (TableTransactionFailedException ex) when (ex.Status == 404)
            {
                submitted = false;
            }

            if (!submitted)
            {
                // A row vanished meanwhile (another deleter): delete the rest one by one, ignoring 404s.
                foreach (var r in chunk)
                {
                    // DeleteEntity treats a missing row (404) as done.
                    await table.DeleteEntityAsync(r.PartitionKey, r.RowKey, ETag.All, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }
}
