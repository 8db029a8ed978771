using System.Runtime.CompilerServices;
using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Recording;
using LlmCost.Core.Retention;
using LlmCost.Core.Rollups;

namespace LlmCost.Storage.Usage;

/// <summary>
/// The operations module's ports over the raw events: facts for rollups/anomalies/reports
/// (<see cref="IUsageFactSource"/>) and deletion for retention and GDPR (<see cref="IRawEventMaintenance"/>).
/// Deleting a partition removes its events, day summary, buckets and contributed rows, the derived team/tenant
/// copies of its buckets, and its index rows, so no summary outlives its events.
/// </summary>
public sealed class TableUsageFacts(LlmCostStorage storage, IUsageEventReader reader) : IUsageFactSource, IRawEventMaintenance
{
    private TableClient Events => storage.Table(UsageTables.Events);
    private TableClient Scopes => storage.Table(UsageTables.Scopes);
    private TableClient TenantDays => storage.Table(UsageTables.TenantDays);

    public async IAsyncEnumerable<UsageFact> ReadDayAsync(string tenantId, DateOnly day, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (UsageEvent e in reader.ReadTenantDayAsync(tenantId, day, cancellationToken).ConfigureAwait(false))
        {
            yield return ToFact(e);
        }
    }

    public async Task<IReadOnlyCollection<TenantDay>> DaysTouchedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        IReadOnlyCollection<UserDay> touched = await reader.PartitionsTouchedSinceAsync(since, cancellationToken).ConfigureAwait(false);
        return touched.Select(p => new TenantDay(p.TenantId, p.Day)).ToHashSet();
    }

    public async Task<IReadOnlyList<TenantDay>> DaysBeforeAsync(DateOnly cutoff, int max, CancellationToken cancellationToken = default)
    {
        var days = new SortedSet<(DateOnly Day, string Tenant)>();
        await foreach (TableEntity row in TenantDays.QueryAsync<TableEntity>(select: ["PartitionKey"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (TryParseTenantDay(row.PartitionKey, out string tenant, out DateOnly day) && day < cutoff)
            {
                days.Add((day, tenant));
            }
        }

        return days.Take(max).Select(d => new TenantDay(d.Tenant, d.Day)).ToList();
    }

    public async Task<int> DeleteDayAsync(string tenantId, DateOnly day, CancellationToken cancellationToken = default)
    {
        int events = 0;
        foreach (string userId in await reader.ListUsersAsync(tenantId, day, cancellationToken).ConfigureAwait(false))
        {
            events += await DeletePartitionAsync(tenantId, userId, day, cancellationToken).ConfigureAwait(false);
        }

        return events;
    }

    public async IAsyncEnumerable<UsageFact> ReadUserAsync(string tenantId, string userId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (DateOnly day in await UserDaysAsync(tenantId, userId, cancellationToken).ConfigureAwait(false))
        {
            await foreach (UsageEvent e in reader.ReadUserDaysAsync(tenantId, userId, day, day, cancellationToken).ConfigureAwait(false))
            {
                yield return ToFact(e);
            }
        }
    }

    public async Task<IReadOnlyList<TenantDay>> DeleteUserAsync(string tenantId, string userId, CancellationToken cancellationToken = default)
    {
        var changed = new List<TenantDay>();
        foreach (DateOnly day in await UserDaysAsync(tenantId, userId, cancellationToken).ConfigureAwait(false))
        {
            await DeletePartitionAsync(tenantId, userId, day, cancellationToken).ConfigureAwait(false);
            changed.Add(new TenantDay(tenantId, day));
        }

        return changed;
    }

    public static UsageFact ToFact(UsageEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new UsageFact
        {
            EventId = e.EventId,
            TenantId = e.TenantId,
            TeamId = e.TeamId,
            UserId = e.UserId,
            Provider = e.Provider,
            Model = e.Model,
            Timestamp = e.Timestamp,
            CostUsd = e.CostUsd,
            InputTokens = e.Usage.InputTokens,
            OutputTokens = e.Usage.OutputTokens,
            Priced = e.Priced,
            Succeeded = e.Succeeded,
        };
    }

    /// <summary>The days the tenant-day index lists for a user (a superset of the days with events).</summary>
    private async Task<List<DateOnly>> UserDaysAsync(string tenantId, string userId, CancellationToken cancellationToken)
    {
        var days = new List<DateOnly>();
        string filter = TableClient.CreateQueryFilter(
            $"PartitionKey ge {tenantId + "|"} and PartitionKey lt {tenantId + "}"} and RowKey eq {userId}");
        await foreach (TableEntity row in TenantDays.QueryAsync<TableEntity>(filter, select: ["PartitionKey"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (TryParseTenantDay(row.PartitionKey, out _, out DateOnly day))
            {
                days.Add(day);
            }
        }

        days.Sort();
        return days;
    }

    /// <summary>Deletes one user-day partition and everything derived from it; returns how many events it held.</summary>
    private async Task<int> DeletePartitionAsync(string tenantId, string userId, DateOnly day, CancellationToken cancellationToken)
    {
        string partitionKey = StorageKeys.UserDayPartition(tenantId, userId, day);
        var rows = new List<TableEntity>();
        var teams = new HashSet<string>(StringComparer.Ordinal);
        int events = 0;
        await foreach (TableEntity row in Events.QueryAsync<TableEntity>(
            TableClient.CreateQueryFilter($"PartitionKey eq {partitionKey}"), select: ["PartitionKey", "RowKey", "Kind", "TeamId"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            rows.Add(row);
            events += row.GetString("Kind") == UsageTables.KindEvent ? 1 : 0;
            if (row.GetString("Kind") == UsageTables.KindBucket && row.GetString("TeamId") is { Length: > 0 } team)
            {
                teams.Add(team);
            }
        }

        // Derived copies first: if this is interrupted, a rerun still finds the source and finishes the job.
        await DeleteUserRowsAsync(UsageScopeProjector.TenantPartition(tenantId, day), userId, cancellationToken).ConfigureAwait(false);
        foreach (string team in teams)
        {
            await DeleteUserRowsAsync(UsageScopeProjector.TeamPartition(tenantId, team, day), userId, cancellationToken).ConfigureAwait(false);
        }

        await DeleteAllAsync(Events, rows, cancellationToken).ConfigureAwait(false);
        try
        {
            await TenantDays.DeleteEntityAsync(StorageKeys.Compose(tenantId, StorageKeys.Day(day)), userId, ETag.All, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // already gone
        }

        return events;
    }

    private async Task DeleteUserRowsAsync(string partitionKey, string userId, CancellationToken cancellationToken)
    {
        var rows = new List<TableEntity>();
        string filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {partitionKey} and RowKey ge {userId + "|"} and RowKey lt {userId + "}"}");
        await foreach (TableEntity row in Scopes.QueryAsync<TableEntity>(filter, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            rows.Add(row);
        }

        await DeleteAllAsync(Scopes, rows, cancellationToken).ConfigureAwait(false);
    }

    private static async Task DeleteAllAsync(TableClient table, List<TableEntity> rows, CancellationToken cancellationToken)
    {
        foreach (TableEntity[] chunk in rows.Chunk(100))
        {
            await table.SubmitTransactionAsync(
                chunk.Select(r => new TableTransactionAction(TableTransactionActionType.Delete, r, ETag.All)), cancellationToken).ConfigureAwait(false);
        }
    }

    private static bool TryParseTenantDay(string partitionKey, out string tenantId, out DateOnly day)
    {
        int bar = partitionKey.LastIndexOf('|');
        tenantId = bar > 0 ? partitionKey[..bar] : string.Empty;
        day = default;
        return bar > 0 && StorageKeys.TryParseDay(partitionKey[(bar + 1)..], out day);
    }
}
