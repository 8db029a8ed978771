using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Recording;
using Microsoft.Extensions.Options;

namespace LlmCost.Storage.Usage;

/// <summary>Retention and GDPR deletes over the ingest log (layout: <see cref="UsageIngestLog"/>).</summary>
public sealed class UsageIngestMaintenance(LlmCostStorage storage, IOptions<UsageIngestOptions> options) : IUsageIngestMaintenance
{
    private TableClient Log => storage.Table(UsageIngestLog.Table);

    public async Task DeleteIdsAsync(string tenantId, IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(eventIds);
        foreach (IGrouping<int, string> shard in eventIds.Distinct(StringComparer.Ordinal).GroupBy(id => UsageIngestLog.Shard(id, options.Value.Shards)))
        {
            string partition = UsageIngestLog.Partition(tenantId, shard.Key);
            await DeleteAsync(partition, shard.ToList(), cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<int> DeleteUserAsync(string tenantId, string userId, CancellationToken cancellationToken = default)
    {
        int deleted = 0;
        for (int shard = 0; shard < options.Value.Shards; shard++)
        {
            string partition = UsageIngestLog.Partition(tenantId, shard);
            var keys = new List<string>();
            string filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and UserId eq {userId}");
            await foreach (TableEntity row in Log.QueryAsync<TableEntity>(filter, select: ["RowKey"], cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                keys.Add(row.RowKey);
            }

            await DeleteAsync(partition, keys, cancellationToken).ConfigureAwait(false);
            deleted += keys.Count;
        }

        return deleted;
    }

    private async Task DeleteAsync(string partition, List<string> rowKeys, CancellationToken cancellationToken)
    {
        foreach (string[] chunk in rowKeys.Chunk(UserDayWriter.MaxActions))
        {
            var actions = chunk.Select(k => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partition, k), ETag.All)).ToList();
            try
            {
                await Log.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
            }
            catch (TableTransactionFailedException ex) when (ex.Status == 404)
            {
                foreach (string key in chunk)
                {
                    await Log.DeleteEntityAsync(partition, key, ETag.All, cancellationToken).ConfigureAwait(false); // 404 = done
                }
            }
        }
    }
}
