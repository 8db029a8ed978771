using System.Collections.Concurrent;
using Azure;
using Azure.Data.Tables;

namespace LlmCost.Storage.Recording;

/// <summary>
/// Keeps the team and tenant copies of a user's hour buckets (table <c>usagescopes</c>) so team and tenant
/// queries read one partition per day instead of scanning every user. Each copy holds the bucket's ABSOLUTE
/// totals and the Seq of the source transaction; a copy is replaced only by a higher Seq (conditional on its
/// ETag), so replays, retries and out-of-order writers from several instances converge on the source
/// (DESIGN invariant 3). Recomputing from the source buckets (<see cref="UsageRepair"/>) gives the same rows.
/// </summary>
public sealed class UsageScopeProjector(LlmCostStorage storage)
{
    private const int MaxCached = 200_000;

    // (PartitionKey, RowKey) → the ETag and Seq this instance last wrote or read.
    private readonly ConcurrentDictionary<(string, string), (ETag ETag, long Seq)> _known = new();

    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);

    private TableClient Scopes => storage.Table(UsageTables.Scopes);

    public static string TenantPartition(string tenantId, DateOnly day) => StorageKeys.Compose(tenantId, "all", StorageKeys.Day(day));

    public static string TeamPartition(string tenantId, string teamId, DateOnly day) => StorageKeys.Compose(tenantId, "team", teamId, StorageKeys.Day(day));

    internal static string RowKey(string userId, BucketKey key) => $"{userId}|{key.Suffix}";

    internal readonly record struct UserBucket(string UserId, BucketSnapshot Bucket);

    internal Task ProjectAsync(string tenantId, string userId, DateOnly day, IReadOnlyList<BucketSnapshot> buckets, CancellationToken cancellationToken = default) =>
        ProjectAsync(tenantId, day, buckets.Select(b => new UserBucket(userId, b)).ToList(), cancellationToken);

    /// <summary>Writes the copies of several users' buckets of one tenant-day (one transaction per 100 rows and partition).</summary>
    internal async Task ProjectAsync(string tenantId, DateOnly day, IReadOnlyList<UserBucket> buckets, CancellationToken cancellationToken = default)
    {
        // The latest snapshot of each bucket wins (a cycle may carry several events of one bucket).
        List<UserBucket> latest = buckets
            .GroupBy(b => (b.UserId, b.Bucket.Key))
            .Select(g => g.MaxBy(b => b.Bucket.Seq)!)
            .ToList();
        var tasks = new List<Task> { WritePartitionAsync(TenantPartition(tenantId, day), latest, cancellationToken) };
        foreach (IGrouping<string, UserBucket> team in latest.Where(b => b.Bucket.Key.Team.Length > 0).GroupBy(b => b.Bucket.Key.Team, StringComparer.Ordinal))
        {
            tasks.Add(WritePartitionAsync(TeamPartition(tenantId, team.Key, day), team.ToList(), cancellationToken));
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    private async Task WritePartitionAsync(string partitionKey, IReadOnlyList<UserBucket> buckets, CancellationToken cancellationToken)
    {
        if (_known.Count > MaxCached)
        {
            _known.Clear(); // only a cache: a miss costs a conflict and a read, never correctness
        }

        // One writer per scope partition on this instance: concurrent projection cycles (one per log shard) would
        // otherwise race each other's ETags on the same tenant-day rows.
        SemaphoreSlim gate = _gates.GetOrAdd(partitionKey, static _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await WriteChunksAsync(partitionKey, buckets, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }

        if (_gates.Count > MaxCached)
        {
            _gates.Clear(); // a later writer gets a fresh gate; the ETag check still guards correctness
        }
    }

    private async Task WriteChunksAsync(string partitionKey, IReadOnlyList<UserBucket> buckets, CancellationToken cancellationToken)
    {
        foreach (UserBucket[] chunk in buckets.Chunk(UserDayWriter.MaxActions))
        {
            await OptimisticConcurrency.RetryAsync(async (_, ct) =>
            {
                var actions = new List<TableTransactionAction>();
                var keys = new List<(string RowKey, long Seq)>();
                foreach ((string userId, BucketSnapshot b) in chunk)
                {
                    string rowKey = RowKey(userId, b.Key);
                    bool known = _known.TryGetValue((partitionKey, rowKey), out (ETag ETag, long Seq) current);
                    if (known && current.Seq >= b.Seq)
                    {
                        continue; // a newer (or the same) state is already there
                    }

                    TableEntity entity = UsageRows.BucketEntity(partitionKey, rowKey, userId, b.Key, b.Totals, b.Seq);
                    actions.Add(known
                        ? new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, current.ETag)
                        : new TableTransactionAction(TableTransactionActionType.Add, entity));
                    keys.Add((rowKey, b.Seq));
                }

                if (actions.Count == 0)
                {
                    return (true, 0);
                }

                try
                {
                    Response<IReadOnlyList<Response>> response = await Scopes.SubmitTransactionAsync(actions, ct).ConfigureAwait(false);
                    IngestMetrics.Transaction("scopes", "ok", actions.Count);
                    for (int i = 0; i < keys.Count; i++)
                    {
                        if (i < response.Value.Count && response.Value[i]?.Headers.ETag is { } etag)
                        {
                            _known[(partitionKey, keys[i].RowKey)] = (etag, keys[i].Seq);
                        }
                        else
                        {
                            _known.TryRemove((partitionKey, keys[i].RowKey), out (ETag, long) _);
                        }
                    }

                    return (true, 0);
                }
                catch (TableTransactionFailedException ex) when (ex.Status is 409 or 412)
                {
                    // Someone else wrote some of these rows: learn their current versions and decide again.
                    string status = ex.Status.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    IngestMetrics.Transaction("scopes", status);
                    IngestMetrics.Retry("scopes", status);
                    await RefreshAsync(partitionKey, keys.Select(k => k.RowKey), ct).ConfigureAwait(false);
                    return (false, 0);
                }
            }, maxAttempts: 30, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RefreshAsync(string partitionKey, IEnumerable<string> rowKeys, CancellationToken cancellationToken)
    {
        // One query for the partition's rows in the chunk's key range instead of a point read per row.
        List<string> keys = rowKeys.Order(StringComparer.Ordinal).ToList();
        if (keys.Count > 4)
        {
            foreach (string key in keys)
            {
                _known.TryRemove((partitionKey, key), out _);
            }

            string filter = TableClient.CreateQueryFilter($"PartitionKey eq {partitionKey} and RowKey ge {keys[0]} and RowKey le {keys[^1]}");
            await foreach (TableEntity row in Scopes.QueryAsync<TableEntity>(filter, select: ["RowKey", "Seq"], cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                _known[(partitionKey, row.RowKey)] = (row.ETag, UsageRows.Seq(row));
            }

            return;
        }

        await Task.WhenAll(rowKeys.Select(async rowKey =>
        {
            NullableResponse<TableEntity> row = await Scopes.GetEntityIfExistsAsync<TableEntity>(partitionKey, rowKey, ["Seq"], cancellationToken).ConfigureAwait(false);
            if (row.HasValue)
            {
                _known[(partitionKey, rowKey)] = (row.Value!.ETag, UsageRows.Seq(row.Value!));
            }
            else
            {
                _known.TryRemove((partitionKey, rowKey), out _);
            }
        })).ConfigureAwait(false);
    }
}
