using System.Collections.Concurrent;
using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Recording;

namespace LlmCost.Storage.Recording;

/// <summary>
/// Keeps the team and tenant copies of a user's hour buckets (table <c>usagescopes</c>) so team and tenant
/// queries read one partition per day instead of scanning every user. Each copy holds the bucket's ABSOLUTE
/// totals and the Seq of the source transaction; a copy is replaced only by a higher Seq (conditional on its
/// ETag), so replays, retries and out-of-order writers from several instances converge on the source
/// (DESIGN invariant 3). Recomputing from the source buckets (<see cref="UsageRepair"/>) gives the same rows.
/// </summary>
/// <remarks>
/// Each partition also keeps its day totals per (team, provider, model) without the user (RowKey
/// <c>|d|{team}|{provider}|{model}</c>, under a header row <c>|agg</c>; no user row key starts with '|'), so a
/// tenant-wide view by day or month reads a few rows per day however many users the tenant has. A day row changes
/// in the SAME entity-group transaction as the user copies it sums, by exactly their change (new minus old, the old
/// value asserted by the copy's ETag, the day row's own value by its ETag), so it always equals the sum of the
/// copies: a replay, a conflict or a crash can never leave it apart. A partition written before day rows existed
/// has copies but no header: it keeps none (its readers sum the copies), since no transaction could make them exact.
/// </remarks>
public sealed class UsageScopeProjector(LlmCostStorage storage)
{
    private const int MaxCached = 200_000;

    /// <summary>Copies per transaction with day rows: each may change one day row, plus the header (≤ 100 actions).</summary>
    private const int CopiesPerAggregatedTransaction = 49;

    internal const string HeaderRowKey = "|agg";
    internal const string DayRowPrefix = "|d|";

    /// <summary>Sorts after every day row ("}" follows "|").</summary>
    internal const string DayRowPrefixEnd = "|d}";

    /// <summary>Sorts after every row whose key starts with '|' (the header and day rows).</summary>
    internal const string AggregateRowsEnd = "|}";

    // (PartitionKey, RowKey) → the ETag, Seq and totals this instance last wrote or read.
    private readonly ConcurrentDictionary<(string, string), (ETag ETag, long Seq, UsageTotals Totals)> _known = new();

    // (PartitionKey, day row key) → its ETag and totals, or a null ETag: known to be absent.
    private readonly ConcurrentDictionary<(string, string), (ETag? ETag, UsageTotals Totals)> _dayRows = new();

    private readonly ConcurrentDictionary<string, PartitionMode> _modes = new(StringComparer.Ordinal);

    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);

    private enum PartitionMode
    {
        /// <summary>No rows yet: the first transaction adds the header.</summary>
        Empty,

        /// <summary>Header present: every change of a copy changes its day row too.</summary>
        Aggregated,

        /// <summary>Copies written before day rows existed: copies only.</summary>
        Legacy,
    }

    private TableClient Scopes => storage.Table(UsageTables.Scopes);

    public static string TenantPartition(string tenantId, DateOnly day) => StorageKeys.Compose(tenantId, "all", StorageKeys.Day(day));

    public static string TeamPartition(string tenantId, string teamId, DateOnly day) => StorageKeys.Compose(tenantId, "team", teamId, StorageKeys.Day(day));

    internal static string RowKey(string userId, BucketKey key) => $"{userId}|{key.Suffix}";

    /// <summary>The day row a copy of this bucket counts in.</summary>
    internal static string DayRowKey(BucketKey key) =>
        $"{DayRowPrefix}{key.Team}|{StorageKeys.Escape(key.Provider)}|{StorageKeys.Escape(key.Model)}";

    internal readonly record struct UserBucket(string UserId, BucketSnapshot Bucket);

    /// <summary>A copy to write (<see cref="Bucket"/>) or, with <see cref="Remove"/>, to delete whatever its Seq.</summary>
    private readonly record struct Change(string UserId, BucketSnapshot Bucket, bool Remove);

    internal Task ProjectAsync(string tenantId, string userId, DateOnly day, IReadOnlyList<BucketSnapshot> buckets, CancellationToken cancellationToken = default) =>
        ProjectAsync(tenantId, day, buckets.Select(b => new UserBucket(userId, b)).ToList(), cancellationToken);

    /// <summary>Writes the copies of several users' buckets of one tenant-day (one transaction per ≤ 100 rows and partition).</summary>
    internal async Task ProjectAsync(string tenantId, DateOnly day, IReadOnlyList<UserBucket> buckets, CancellationToken cancellationToken = default)
    {
        // The latest snapshot of each bucket wins (a cycle may carry several events of one bucket).
        List<Change> latest = buckets
            .GroupBy(b => (b.UserId, b.Bucket.Key))
            .Select(g => g.MaxBy(b => b.Bucket.Seq)!)
            .Select(b => new Change(b.UserId, b.Bucket, Remove: false))
            .ToList();
        var tasks = new List<Task> { WritePartitionAsync(TenantPartition(tenantId, day), latest, cancellationToken) };
        foreach (IGrouping<string, Change> team in latest.Where(b => b.Bucket.Key.Team.Length > 0).GroupBy(b => b.Bucket.Key.Team, StringComparer.Ordinal))
        {
            tasks.Add(WritePartitionAsync(TeamPartition(tenantId, team.Key, day), team.ToList(), cancellationToken));
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes a user's copies from one scope partition (retention, erasure), taking them out of its day rows in
    /// the same transactions. Returns how many copies it deleted.
    /// </summary>
    public async Task<int> RemoveUserAsync(string partitionKey, string userId, CancellationToken cancellationToken = default)
    {
        var changes = new List<Change>();
        string filter = TableClient.CreateQueryFilter($"PartitionKey eq {partitionKey} and RowKey ge {userId + "|"} and RowKey lt {userId + "}"}");
        await foreach (TableEntity row in Scopes.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var snapshot = new BucketSnapshot(UsageRows.BucketKeyOf(row), UsageRows.Totals(row), UsageRows.Seq(row));
            _known[(partitionKey, row.RowKey)] = (row.ETag, snapshot.Seq, snapshot.Totals);
            changes.Add(new Change(userId, snapshot, Remove: true));
        }

        if (changes.Count > 0)
        {
            await WritePartitionAsync(partitionKey, changes, cancellationToken).ConfigureAwait(false);
        }

        return changes.Count;
    }

    private async Task WritePartitionAsync(string partitionKey, IReadOnlyList<Change> changes, CancellationToken cancellationToken)
    {
        if (_known.Count > MaxCached || _dayRows.Count > MaxCached)
        {
            // Only caches: a miss costs a conflict and a read, never correctness.
            _known.Clear();
            _dayRows.Clear();
        }

        // One writer per scope partition on this instance: concurrent projection cycles (one per log shard) would
        // otherwise race each other's ETags on the same tenant-day rows.
        SemaphoreSlim gate = _gates.GetOrAdd(partitionKey, static _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await WriteChunksAsync(partitionKey, changes, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }

        if (_gates.Count > MaxCached)
        {
            _gates.Clear(); // a later writer gets a fresh gate; the ETag check still guards correctness
            _modes.Clear();
        }
    }

    private async Task WriteChunksAsync(string partitionKey, IReadOnlyList<Change> changes, CancellationToken cancellationToken)
    {
        PartitionMode mode = await ModeAsync(partitionKey, cancellationToken).ConfigureAwait(false);
        int size = mode == PartitionMode.Legacy ? UserDayWriter.MaxActions : CopiesPerAggregatedTransaction;
        foreach (Change[] chunk in changes.Chunk(size))
        {
            await OptimisticConcurrency.RetryAsync(async (attempt, ct) =>
            {
                mode = await ModeAsync(partitionKey, ct).ConfigureAwait(false);
                bool aggregate = mode != PartitionMode.Legacy;
                if (aggregate)
                {
                    await LoadDayRowsAsync(partitionKey, chunk, ct).ConfigureAwait(false);
                }

                // A copy to delete that this instance does not know (its cache was cleared) is read first, never skipped.
                List<string> unknownRemovals = chunk.Where(c => c.Remove).Select(c => RowKey(c.UserId, c.Bucket.Key))
                    .Where(k => !_known.ContainsKey((partitionKey, k))).ToList();
                if (unknownRemovals.Count > 0)
                {
                    await RefreshAsync(partitionKey, unknownRemovals, ct).ConfigureAwait(false);
                }

                var actions = new List<TableTransactionAction>();
                // What each action's response updates: a copy, a day row, or the header.
                var written = new List<(string RowKey, long Seq, UsageTotals? Totals, bool DayRow)>();
                var dayRows = new Dictionary<string, UsageTotals>(StringComparer.Ordinal);
                foreach ((string userId, BucketSnapshot b, bool remove) in chunk)
                {
                    string rowKey = RowKey(userId, b.Key);
                    bool known = _known.TryGetValue((partitionKey, rowKey), out (ETag ETag, long Seq, UsageTotals Totals) current);
                    if (remove ? !known : known && current.Seq >= b.Seq)
                    {
                        continue; // a newer (or the same) state is already there, or nothing is left to delete
                    }

                    if (remove)
                    {
                        actions.Add(new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partitionKey, rowKey), current.ETag));
                        written.Add((rowKey, 0, null, false));
                    }
                    else
                    {
                        TableEntity entity = UsageRows.BucketEntity(partitionKey, rowKey, userId, b.Key, b.Totals, b.Seq);
                        actions.Add(known
                            ? new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, current.ETag)
                            : new TableTransactionAction(TableTransactionActionType.Add, entity));
                        written.Add((rowKey, b.Seq, b.Totals, false));
                    }

                    if (aggregate)
                    {
                        string dayKey = DayRowKey(b.Key);
                        UsageTotals sum = dayRows.TryGetValue(dayKey, out UsageTotals? pending) ? pending : _dayRows[(partitionKey, dayKey)].Totals;
                        try
                        {
                            sum = known ? sum.Without(current.Totals) : sum;
                        }
                        catch (InvalidOperationException)
                        {
                            // The day row is not the sum of its copies (a copy written by a version without day
                            // rows, or a row deleted by hand): recompute the partition's day rows, then try again.
                            await RebuildDayRowsAsync(partitionKey, ct).ConfigureAwait(false);
                            return (false, 0);
                        }

                        dayRows[dayKey] = remove ? sum : sum + b.Totals;
                    }
                }

                if (actions.Count == 0)
                {
                    return (true, 0);
                }

                foreach ((string dayKey, UsageTotals totals) in dayRows)
                {
                    (ETag? etag, _) = _dayRows[(partitionKey, dayKey)];
                    BucketKey key = DayRowBucketKey(chunk, dayKey);
                    if (totals.Events == 0)
                    {
                        if (etag is { } existing)
                        {
                            actions.Add(new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partitionKey, dayKey), existing));
                            written.Add((dayKey, 0, null, true));
                        }

                        continue;
                    }

                    TableEntity entity = UsageRows.BucketEntity(partitionKey, dayKey, userId: null, key with { Hour = 0 }, totals, seq: 0);
                    actions.Add(etag is { } current
                        ? new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, current)
                        : new TableTransactionAction(TableTransactionActionType.Add, entity));
                    written.Add((dayKey, 0, totals, true));
                }

                if (mode == PartitionMode.Empty)
                {
                    // Fails (409) when another writer created the partition first: this one then learns its mode.
                    actions.Add(new TableTransactionAction(TableTransactionActionType.Add, new TableEntity(partitionKey, HeaderRowKey) { ["Kind"] = "header" }));
                    written.Add((HeaderRowKey, 0, null, false));
                }

                try
                {
                    Response<IReadOnlyList<Response>> response = await Scopes.SubmitTransactionAsync(actions, ct).ConfigureAwait(false);
                    IngestMetrics.Transaction("scopes", "ok", actions.Count);
                    for (int i = 0; i < written.Count; i++)
                    {
                        (string rowKey, long seq, UsageTotals? totals, bool dayRow) = written[i];
                        ETag? etag = i < response.Value.Count ? response.Value[i]?.Headers.ETag : null;
                        if (rowKey == HeaderRowKey)
                        {
                            _modes[partitionKey] = PartitionMode.Aggregated;
                        }
                        else if (dayRow)
                        {
                            if (totals is null)
                            {
                                _dayRows[(partitionKey, rowKey)] = (null, UsageTotals.Zero);
                            }
                            else if (etag is { } e)
                            {
                                _dayRows[(partitionKey, rowKey)] = (e, totals);
                            }
                            else
                            {
                                _dayRows.TryRemove((partitionKey, rowKey), out _);
                            }
                        }
                        else if (totals is not null && etag is { } e)
                        {
                            _known[(partitionKey, rowKey)] = (e, seq, totals);
                        }
                        else
                        {
                            _known.TryRemove((partitionKey, rowKey), out _);
                        }
                    }

                    return (true, 0);
                }
                catch (TableTransactionFailedException ex) when (ex.Status is 409 or 412 or 404)
                {
                    // Someone else wrote some of these rows: learn their current versions and decide again.
                    string status = ex.Status.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    IngestMetrics.Transaction("scopes", status);
                    IngestMetrics.Retry("scopes", status);
                    _modes.TryRemove(partitionKey, out _);
                    foreach ((string rowKey, _, _, bool dayRow) in written.Where(w => w.DayRow))
                    {
                        _dayRows.TryRemove((partitionKey, rowKey), out _);
                    }

                    await RefreshAsync(partitionKey, written.Where(w => !w.DayRow && w.RowKey != HeaderRowKey).Select(w => w.RowKey), ct).ConfigureAwait(false);
                    return (false, 0);
                }
            }, maxAttempts: 30, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
    }

    private static BucketKey DayRowBucketKey(IEnumerable<Change> chunk, string dayKey) =>
        chunk.Select(c => c.Bucket.Key).First(k => DayRowKey(k) == dayKey);

    /// <summary>Whether the partition keeps day rows; learnt once per instance (and again after a conflict).</summary>
    private async Task<PartitionMode> ModeAsync(string partitionKey, CancellationToken cancellationToken)
    {
        if (_modes.TryGetValue(partitionKey, out PartitionMode mode))
        {
            return mode;
        }

        // Rows first, then the header: the header is added in the same transaction as a partition's first rows, so
        // when the rows seen were written with it, the header read after them sees it too. (The other order would take a
        // partition another instance has just created for one written before day rows, and stop keeping them.)
        bool anyRow = false;
        await foreach (Page<TableEntity> page in Scopes.QueryAsync<TableEntity>(
            TableClient.CreateQueryFilter($"PartitionKey eq {partitionKey}"), maxPerPage: 1, select: ["RowKey"], cancellationToken: cancellationToken)
            .AsPages(pageSizeHint: 1).ConfigureAwait(false))
        {
            anyRow = page.Values.Count > 0;
            break;
        }

        NullableResponse<TableEntity> header = await Scopes.GetEntityIfExistsAsync<TableEntity>(partitionKey, HeaderRowKey, ["RowKey"], cancellationToken).ConfigureAwait(false);
        mode = header.HasValue ? PartitionMode.Aggregated : anyRow ? PartitionMode.Legacy : PartitionMode.Empty;

        // An empty partition is not remembered: its first transaction (adding the header) settles it.
        if (mode != PartitionMode.Empty)
        {
            _modes[partitionKey] = mode;
        }

        return mode;
    }

    /// <summary>
    /// Makes the partition's day rows the sums of its copies again. The day rows are read BEFORE the copies: a writer
    /// that changes a copy after that read also changes its day row, so the conditional writes here fail (and the
    /// caller tries again) rather than store a sum that missed the change.
    /// </summary>
    private async Task RebuildDayRowsAsync(string partitionKey, CancellationToken cancellationToken)
    {
        var stored = new Dictionary<string, ETag>(StringComparer.Ordinal);
        await foreach (TableEntity row in Scopes.QueryAsync<TableEntity>(
            TableClient.CreateQueryFilter($"PartitionKey eq {partitionKey} and RowKey ge {DayRowPrefix} and RowKey lt {DayRowPrefixEnd}"),
            select: ["RowKey"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            stored[row.RowKey] = row.ETag;
        }

        var sums = new Dictionary<string, (BucketKey Key, UsageTotals Totals)>(StringComparer.Ordinal);
        await foreach (TableEntity row in Scopes.QueryAsync<TableEntity>(
            TableClient.CreateQueryFilter($"PartitionKey eq {partitionKey}"), cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (row.RowKey.StartsWith('|'))
            {
                continue;
            }

            BucketKey key = UsageRows.BucketKeyOf(row);
            string dayKey = DayRowKey(key);
            sums[dayKey] = sums.TryGetValue(dayKey, out var sum) ? (key, sum.Totals + UsageRows.Totals(row)) : (key, UsageRows.Totals(row));
        }

        var actions = new List<TableTransactionAction>();
        foreach ((string dayKey, (BucketKey key, UsageTotals totals)) in sums)
        {
            TableEntity entity = UsageRows.BucketEntity(partitionKey, dayKey, userId: null, key with { Hour = 0 }, totals, seq: 0);
            actions.Add(stored.TryGetValue(dayKey, out ETag etag)
                ? new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, etag)
                : new TableTransactionAction(TableTransactionActionType.Add, entity));
        }

        actions.AddRange(stored.Where(s => !sums.ContainsKey(s.Key))
            .Select(s => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partitionKey, s.Key), s.Value)));
        foreach (string dayKey in stored.Keys.Concat(sums.Keys))
        {
            _dayRows.TryRemove((partitionKey, dayKey), out _);
        }

        foreach (TableTransactionAction[] chunk in actions.Chunk(UserDayWriter.MaxActions))
        {
            try
            {
                await Scopes.SubmitTransactionAsync(chunk, cancellationToken).ConfigureAwait(false);
            }
            catch (TableTransactionFailedException ex) when (ex.Status is 409 or 412 or 404)
            {
                return; // a writer changed the partition meanwhile: the caller's next attempt decides again
            }
        }
    }

    /// <summary>Makes sure the day rows a chunk changes are known (present with ETag, or absent): one query for all of the partition's.</summary>
    private async Task LoadDayRowsAsync(string partitionKey, IEnumerable<Change> chunk, CancellationToken cancellationToken)
    {
        List<string> missing = chunk.Select(c => DayRowKey(c.Bucket.Key)).Where(k => !_dayRows.ContainsKey((partitionKey, k))).Distinct(StringComparer.Ordinal).ToList();
        if (missing.Count == 0)
        {
            return;
        }

        var found = new HashSet<string>(StringComparer.Ordinal);
        string filter = TableClient.CreateQueryFilter($"PartitionKey eq {partitionKey} and RowKey ge {DayRowPrefix} and RowKey lt {DayRowPrefixEnd}");
        await foreach (TableEntity row in Scopes.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            _dayRows[(partitionKey, row.RowKey)] = (row.ETag, UsageRows.Totals(row));
            found.Add(row.RowKey);
        }

        foreach (string key in missing.Where(k => !found.Contains(k)))
        {
            _dayRows[(partitionKey, key)] = (null, UsageTotals.Zero);
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
            await foreach (TableEntity row in Scopes.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                if (!row.RowKey.StartsWith('|'))
                {
                    _known[(partitionKey, row.RowKey)] = (row.ETag, UsageRows.Seq(row), UsageRows.Totals(row));
                }
            }

            return;
        }

        await Task.WhenAll(rowKeys.Select(async rowKey =>
        {
            NullableResponse<TableEntity> row = await Scopes.GetEntityIfExistsAsync<TableEntity>(partitionKey, rowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (row.HasValue)
            {
                _known[(partitionKey, rowKey)] = (row.Value!.ETag, UsageRows.Seq(row.Value!), UsageRows.Totals(row.Value!));
            }
            else
            {
                _known.TryRemove((partitionKey, rowKey), out _);
            }
        })).ConfigureAwait(false);
    }
}
