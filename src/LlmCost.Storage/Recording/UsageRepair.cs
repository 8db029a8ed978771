using Azure.Data.Tables;
using LlmCost.Core.Recording;

namespace LlmCost.Storage.Recording;

/// <summary>
/// Recomputes the derived team/tenant rows of recently written partitions from their source buckets. The
/// projection after each commit normally keeps them current; this closes the gap a crash between the commit
/// and the projection would leave. Idempotent: it writes the same absolute rows the projection would.
/// </summary>
public sealed class UsageRepair(LlmCostStorage storage, IUsageEventReader reader, UsageScopeProjector projector)
{
    public async Task<int> RepairSinceAsync(DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        IReadOnlyCollection<UserDay> touched = await reader.PartitionsTouchedSinceAsync(since, cancellationToken).ConfigureAwait(false);
        foreach (UserDay partition in touched)
        {
            await RepairAsync(partition, cancellationToken).ConfigureAwait(false);
        }

        return touched.Count;
    }

    public async Task RepairAsync(UserDay partition, CancellationToken cancellationToken = default)
    {
        var buckets = new List<BucketSnapshot>();
        string filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {StorageKeys.UserDayPartition(partition.TenantId, partition.UserId, partition.Day)} and RowKey ge {UsageTables.BucketPrefix} and RowKey lt {UsageTables.BucketPrefixEnd}");
        await foreach (TableEntity row in storage.Table(UsageTables.Events).QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            buckets.Add(new BucketSnapshot(UsageRows.BucketKeyOf(row), UsageRows.Totals(row), UsageRows.Seq(row)));
        }

        if (buckets.Count > 0)
        {
            await projector.ProjectAsync(partition.TenantId, partition.UserId, partition.Day, buckets, cancellationToken).ConfigureAwait(false);
        }
    }
}
