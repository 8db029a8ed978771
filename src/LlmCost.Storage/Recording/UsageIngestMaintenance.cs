using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Recording;
using Microsoft.Extensions.Options;

namespace LlmCost.Storage.Recording;

/// <summary>Retention and GDPR deletes over the ingest log (layout: <see cref="UsageIngestLog"/>).</summary>
public sealed class UsageIngestMaintenance(LlmCostStorage storage, UsageProjector projector, IOptions<UsageIngestOptions> options) : IUsageIngestMaintenance
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

    /// <summary>
    /// Deletes the user's id rows and previous-format pending rows, and takes the user's events out of the batch rows
    /// still pending (rewritten ETag-conditionally, deleted when nothing else is left), so the projector cannot bring
    /// them back (this instance's queued copies included). Returns the rows deleted plus the pending events removed. A
    /// projection cycle already running (here or on another instance) can still apply its copy: callers erase the
    /// user-day rows after this call, once such a cycle is over (the read barrier covers this instance's).
    /// </summary>
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
            deleted += keys.Count + await RemoveFromBatchesAsync(partition, userId, cancellationToken).ConfigureAwait(false);
        }

        // This instance's queued copies of its own batch rows would bring the events back: drop them there too.
        projector.DropUser(tenantId, userId);

        return deleted;
    }

    private async Task<int> RemoveFromBatchesAsync(string partition, string userId, CancellationToken cancellationToken)
    {
        int removed = 0;
        string filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {partition} and RowKey ge {UsageIngestLog.PendingPrefix} and RowKey lt {UsageIngestLog.PendingPrefixEnd} and Kind eq {UsageIngestLog.KindBatch}");
        await foreach (TableEntity found in Log.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            TableEntity? row = found;
            while (row is not null)
            {
                List<UsageEvent> events = IngestBatchRow.Read(row);
                List<UsageEvent> keep = events.Where(e => !string.Equals(e.UserId, userId, StringComparison.Ordinal)).ToList();
                if (keep.Count == events.Count)
                {
                    break;
                }

                try
                {
                    if (keep.Count == 0)
                    {
                        await Log.DeleteEntityAsync(partition, row.RowKey, row.ETag, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        TableEntity rewritten = IngestBatchRow.Build(partition, row.RowKey, keep.Select(UsageEventCodec.Encode).ToList());
                        await Log.UpdateEntityAsync(rewritten, row.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                    }

                    removed += events.Count - keep.Count;
                    break;
                }
                catch (RequestFailedException ex) when (ex.Status == 404)
                {
                    break; // applied and deleted meanwhile: nothing pending left in it
                }
                catch (RequestFailedException ex) when (ex.Status == 412)
                {
                    // Rewritten meanwhile (another erasure): read it again and decide again.
                    NullableResponse<TableEntity> fresh = await Log.GetEntityIfExistsAsync<TableEntity>(partition, row.RowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
                    row = fresh.HasValue ? fresh.Value : null;
                }
            }
        }

        return removed;
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
