using System.Collections.Concurrent;
using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Recording;
using Microsoft.Extensions.Logging;

namespace LlmCost.Storage.Usage;

/// <summary>
/// Records events exactly once with GROUP COMMIT: events are queued per partition (tenant|user|day) and one
/// drainer per partition turns whatever has queued up — from any number of concurrent requests — into one
/// entity-group transaction: the new event rows (Add, so an existing id fails with 409 = duplicate), the day
/// summary and the touched hour buckets (conditional on the ETags this writer holds), and contributed rows.
/// The summary state is cached per partition, so the steady state costs one transaction per batch and no reads;
/// a 412 (another instance wrote) reloads it. Table Storage's ~2,000 entities/s per partition is reached with
/// a fraction of the requests single inserts would need.
/// </summary>
public sealed partial class UsageEventWriter : IUsageEventStore
{
    /// <summary>Actions per entity-group transaction (Table Storage's limit).</summary>
    public const int MaxActions = 100;

    private const int MaxPartitionsCached = 50_000;
    private const int MaxRecordedIdsPerPartition = 20_000;

    private readonly LlmCostStorage _storage;
    private readonly UsageScopeProjector _projector;
    private readonly IPartitionContributor[] _contributors;
    private readonly TimeProvider _time;
    private readonly ILogger<UsageEventWriter> _logger;
    private readonly ConcurrentDictionary<string, PartitionState> _partitions = new(StringComparer.Ordinal);
    private readonly int _maxEventsPerTransaction;

    public UsageEventWriter(
        LlmCostStorage storage,
        UsageScopeProjector projector,
        IEnumerable<IPartitionContributor> contributors,
        TimeProvider time,
        ILogger<UsageEventWriter> logger,
        UsageWriterOptions? options = null)
    {
        _maxEventsPerTransaction = Math.Clamp(options?.MaxEventsPerTransaction ?? MaxActions, 1, MaxActions);
        _storage = storage;
        _projector = projector;
        _contributors = contributors.ToArray();
        _time = time;
        _logger = logger;
    }

    private TableClient Events => _storage.Table(UsageTables.Events);

    public async Task<IReadOnlyList<RecordOutcome>> RecordAsync(IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        var tasks = new Task<RecordOutcome>[events.Count];
        for (int i = 0; i < events.Count; i++)
        {
            tasks[i] = Enqueue(events[i]);
        }

        // The commit itself is not cancelled with the request: once queued, an event is either recorded or
        // failed for everybody waiting on it, never half-written.
        return await Task.WhenAll(tasks).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private Task<RecordOutcome> Enqueue(UsageEvent e)
    {
        string partitionKey = StorageKeys.UserDayPartition(e.TenantId, e.UserId, e.UtcDay);
        var pending = new Pending(e);
        while (true)
        {
            PartitionState state = _partitions.GetOrAdd(partitionKey, static pk => new PartitionState(pk));
            bool startDrainer;
            lock (state.Gate)
            {
                if (state.Retired)
                {
                    continue; // trimmed from the cache between GetOrAdd and the lock: take the fresh one
                }

                state.Queue.Add(pending);
                startDrainer = !state.Draining;
                state.Draining = true;
            }

            if (startDrainer)
            {
                _ = Task.Run(() => DrainAsync(state));
            }

            return pending.Completion.Task;
        }
    }

    private async Task DrainAsync(PartitionState state)
    {
        while (true)
        {
            List<Pending> batch;
            lock (state.Gate)
            {
                if (state.Queue.Count == 0)
                {
                    state.Draining = false;
                    TrimIfLarge();
                    return;
                }

                batch = TakeBatch(state);
            }

            try
            {
                await CommitAsync(state, batch).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                state.Loaded = false;
                LogCommitFailed(_logger, ex, batch.Count);
                foreach (Pending p in batch)
                {
                    p.Completion.TrySetException(ex);
                }
            }
        }
    }

    /// <summary>Takes queued events while they fit one transaction with their summary rows and contributions.</summary>
    private List<Pending> TakeBatch(PartitionState state)
    {
        int reserve = 1 + (_contributors.Length > 0 ? PartitionRowOperation.MaxPerBatch : 0);
        var buckets = new HashSet<BucketKey>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        int taken = 0;
        int leaders = 0;
        foreach (Pending p in state.Queue)
        {
            bool repeat = ids.Contains(p.Event.EventId);
            BucketKey key = BucketKey.Of(p.Event);
            int extra = repeat ? 0 : 1 + (buckets.Contains(key) ? 0 : 1);
            if (leaders + buckets.Count + reserve + extra > MaxActions || (!repeat && leaders == _maxEventsPerTransaction))
            {
                break;
            }

            if (!repeat)
            {
                ids.Add(p.Event.EventId);
                buckets.Add(key);
                leaders++;
            }

            taken++;
        }

        List<Pending> batch = state.Queue.GetRange(0, taken);
        state.Queue.RemoveRange(0, taken);
        return batch;
    }

    private async Task CommitAsync(PartitionState state, List<Pending> batch)
    {
        // The same id twice in one batch: the first is the leader, later ones share its outcome as duplicates.
        var leaders = new List<Pending>();
        var followers = new List<(Pending Follower, Pending Leader)>();
        var byId = new Dictionary<string, Pending>(StringComparer.Ordinal);
        foreach (Pending p in batch)
        {
            if (byId.TryGetValue(p.Event.EventId, out Pending? leader))
            {
                followers.Add((p, leader));
            }
            else
            {
                byId[p.Event.EventId] = p;
                leaders.Add(p);
            }
        }

        UsageEvent first = leaders[0].Event;
        var duplicates = new List<Pending>();
        var outcomes = new Dictionary<string, RecordOutcome>(StringComparer.Ordinal);

        // Ids this writer recorded itself are known duplicates without a failing transaction (the common case
        // of a client retry landing on the same instance). Other instances' ids are caught by the 409 below.
        List<Pending> remaining = [];
        foreach (Pending p in leaders)
        {
            if (state.Recorded.TryGetValue(p.Event.EventId, out RecordOutcome? known))
            {
                outcomes[p.Event.EventId] = known with { Duplicate = true, EventIdGenerated = p.Event.EventIdGenerated };
            }
            else
            {
                remaining.Add(p);
            }
        }

        IReadOnlyList<BucketSnapshot> written = [];
        await EnsureIndexedAsync(state, first).ConfigureAwait(false);

        await OptimisticConcurrency.RetryAsync(async (_, ct) =>
        {
            while (remaining.Count > 0)
            {
                if (!state.Loaded)
                {
                    await LoadAsync(state, ct).ConfigureAwait(false);
                }

                Plan plan = await PlanAsync(state, first, remaining, ct).ConfigureAwait(false);
                try
                {
                    Response<IReadOnlyList<Response>> response =
                        await Events.SubmitTransactionAsync(plan.Actions, ct).ConfigureAwait(false);
                    Apply(state, plan, response.Value);
                    written = plan.Buckets;
                    return (true, 0);
                }
                catch (TableTransactionFailedException ex) when (ex.Status is 409 or 412 or 404)
                {
                    int? index = ex.FailedTransactionActionIndex;
                    if (ex.Status == 409 && index is { } i && i < remaining.Count)
                    {
                        // The event row already exists: this event was recorded before. Drop it and retry the rest.
                        duplicates.Add(remaining[i]);
                        remaining = remaining.Where((_, j) => j != i).ToList();
                        continue;
                    }

                    if (index is null)
                    {
                        // No index reported: find the already-recorded events by reading them.
                        List<Pending> existing = await ExistingAsync(state.PartitionKey, remaining, ct).ConfigureAwait(false);
                        if (existing.Count > 0)
                        {
                            duplicates.AddRange(existing);
                            remaining = remaining.Except(existing).ToList();
                            continue;
                        }
                    }

                    // A summary or contributed row changed under us (another instance): reload, back off, retry.
                    state.Loaded = false;
                    return (false, 0);
                }
            }

            return (true, 0);
        }, maxAttempts: 30).ConfigureAwait(false);

        // The team/tenant copies hold absolute values, so when more events of this partition are already queued
        // the copy is written once after the last of them (it carries every earlier change too). The answer
        // that empties the queue waits for it, so a caller that waits for its own writes reads them back.
        foreach (BucketSnapshot b in written)
        {
            state.Unprojected[b.Key] = b;
        }

        bool more;
        lock (state.Gate)
        {
            more = state.Queue.Count > 0;
        }

        if (!more && state.Unprojected.Count > 0)
        {
            BucketSnapshot[] pending = [.. state.Unprojected.Values];
            state.Unprojected.Clear();
            await ProjectAsync(first, pending).ConfigureAwait(false);
        }

        if (state.Recorded.Count > MaxRecordedIdsPerPartition)
        {
            state.Recorded.Clear(); // only a cache: the 409 path stays correct without it
        }

        foreach (Pending p in remaining)
        {
            UsageEvent e = p.Event;
            var outcome = new RecordOutcome(e.EventId, e.EventIdGenerated, false, e.CostUsd, e.Priced, e.UnpricedReason);
            outcomes[e.EventId] = outcome;
            state.Recorded[e.EventId] = outcome;
        }

        RecordOutcome[] stored = await Task.WhenAll(duplicates.Select(d => DuplicateOutcomeAsync(state.PartitionKey, d.Event))).ConfigureAwait(false);
        foreach (RecordOutcome o in stored)
        {
            outcomes[o.EventId] = o;
            state.Recorded[o.EventId] = o with { Duplicate = false };
        }

        foreach (Pending p in leaders)
        {
            p.Completion.TrySetResult(outcomes[p.Event.EventId]);
        }

        foreach ((Pending follower, Pending leader) in followers)
        {
            RecordOutcome o = outcomes[leader.Event.EventId];
            follower.Completion.TrySetResult(o with { Duplicate = true, EventIdGenerated = follower.Event.EventIdGenerated });
        }
    }

    private async Task<Plan> PlanAsync(PartitionState state, UsageEvent first, List<Pending> events, CancellationToken cancellationToken)
    {
        string pk = state.PartitionKey;
        var actions = new List<TableTransactionAction>(events.Count + 8);
        UsageTotals dayTotals = state.Day?.Totals ?? UsageTotals.Zero;
        long seq = (state.Day?.Seq ?? 0) + 1;
        var bucketTotals = new Dictionary<BucketKey, UsageTotals>();
        foreach (Pending p in events)
        {
            actions.Add(new TableTransactionAction(TableTransactionActionType.Add, UsageRows.EventEntity(pk, p.Event)));
            var t = UsageTotals.Of(p.Event);
            dayTotals += t;
            BucketKey key = BucketKey.Of(p.Event);
            bucketTotals[key] = bucketTotals.TryGetValue(key, out UsageTotals? sum) ? sum + t : t;
        }

        var dayEntity = UsageRows.WithTotals(new TableEntity(pk, UsageTables.DayRowKey)
        {
            ["Kind"] = UsageTables.KindDay,
            ["TenantId"] = first.TenantId,
            ["UserId"] = first.UserId,
        }, dayTotals, seq);
        actions.Add(Conditional(dayEntity, state.Day?.ETag));

        var buckets = new List<BucketSnapshot>(bucketTotals.Count);
        foreach ((BucketKey key, UsageTotals added) in bucketTotals)
        {
            state.Buckets.TryGetValue(key, out SummaryRow? current);
            UsageTotals total = (current?.Totals ?? UsageTotals.Zero) + added;
            actions.Add(Conditional(UsageRows.BucketEntity(pk, key.RowKey, null, key, total, seq), current?.ETag));
            buckets.Add(new BucketSnapshot(key, total, seq));
        }

        if (_contributors.Length > 0)
        {
            var batch = new PartitionBatch(first.TenantId, first.UserId, first.UtcDay, events.Select(p => p.Event).ToList());
            var reader = new PartitionRowReader(Events, pk);
            foreach (IPartitionContributor contributor in _contributors)
            {
                IReadOnlyList<PartitionRowOperation> rows = await contributor.ContributeAsync(batch, reader, cancellationToken).ConfigureAwait(false);
                if (rows.Count > PartitionRowOperation.MaxPerBatch)
                {
                    throw new InvalidOperationException($"{contributor.GetType().Name} contributed {rows.Count} rows; at most {PartitionRowOperation.MaxPerBatch}");
                }

                actions.AddRange(rows.Select(r => ContributedAction(pk, r)));
            }
        }

        OptimisticConcurrency.EnsureValidTransaction(actions);
        return new Plan(actions, events.Count, dayTotals, seq, buckets);
    }

    private static void Apply(PartitionState state, Plan plan, IReadOnlyList<Response> responses)
    {
        int dayIndex = plan.DayIndex;
        ETag? dayETag = ETagOf(responses, dayIndex);
        if (dayETag is null)
        {
            state.Loaded = false;
            return;
        }

        state.Day = new SummaryRow(plan.DayTotals, plan.Seq, dayETag.Value);
        for (int i = 0; i < plan.Buckets.Count; i++)
        {
            BucketSnapshot b = plan.Buckets[i];
            ETag? etag = ETagOf(responses, dayIndex + 1 + i);
            if (etag is null)
            {
                state.Loaded = false;
                return;
            }

            state.Buckets[b.Key] = new SummaryRow(b.Totals, b.Seq, etag.Value);
        }
    }

    private static ETag? ETagOf(IReadOnlyList<Response> responses, int index) =>
        index < responses.Count && responses[index]?.Headers.ETag is { } etag ? etag : null;

    private static TableTransactionAction Conditional(TableEntity entity, ETag? etag) =>
        etag is { } known
            ? new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, known)
            : new TableTransactionAction(TableTransactionActionType.Add, entity);

    private static TableTransactionAction ContributedAction(string partitionKey, PartitionRowOperation row)
    {
        if (!row.RowKey.StartsWith(PartitionRowOperation.RowKeyPrefix, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"contributed row keys must start with '{PartitionRowOperation.RowKeyPrefix}' (got '{row.RowKey}')");
        }

        StorageKeys.EnsureKey(row.RowKey, nameof(row));
        var entity = new TableEntity(partitionKey, row.RowKey);
        foreach ((string name, object? value) in row.Properties)
        {
            if (value is not null)
            {
                entity[name] = value is decimal d ? UsageRows.Money(d) : value;
            }
        }

        ETag etag = row.ETag is null ? ETag.All : new ETag(row.ETag);
        TableTransactionActionType type = row.Kind switch
        {
            PartitionRowOperationKind.Add => TableTransactionActionType.Add,
            PartitionRowOperationKind.Replace => TableTransactionActionType.UpdateReplace,
            PartitionRowOperationKind.Merge => TableTransactionActionType.UpdateMerge,
            PartitionRowOperationKind.Delete => TableTransactionActionType.Delete,
            PartitionRowOperationKind.UpsertReplace => TableTransactionActionType.UpsertReplace,
            PartitionRowOperationKind.UpsertMerge => TableTransactionActionType.UpsertMerge,
            _ => throw new ArgumentOutOfRangeException(nameof(row), row.Kind, null),
        };
        return new TableTransactionAction(type, entity, etag);
    }

    /// <summary>Reads the day summary and every bucket of the partition with their ETags.</summary>
    private async Task LoadAsync(PartitionState state, CancellationToken cancellationToken)
    {
        state.Day = null;
        state.Buckets.Clear();
        string filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {state.PartitionKey} and RowKey ge {UsageTables.BucketPrefix} and RowKey le {UsageTables.DayRowKey}");
        await foreach (TableEntity row in Events.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var summary = new SummaryRow(UsageRows.Totals(row), UsageRows.Seq(row), row.ETag);
            if (row.RowKey == UsageTables.DayRowKey)
            {
                state.Day = summary;
            }
            else if (row.RowKey.StartsWith(UsageTables.BucketPrefix, StringComparison.Ordinal))
            {
                state.Buckets[UsageRows.BucketKeyOf(row)] = summary;
            }
        }

        state.Loaded = true;
    }

    /// <summary>
    /// Marks the partition in the "touched" and "tenant-day users" indexes BEFORE its events are written (once per
    /// processing hour and writer), so readers of those indexes get a superset, never a gap.
    /// </summary>
    private async Task EnsureIndexedAsync(PartitionState state, UsageEvent e)
    {
        string hour = UsageTables.TouchedPartition(_time.GetUtcNow());
        if (state.MarkedHour == hour)
        {
            return;
        }

        string day = StorageKeys.Day(e.UtcDay);
        await Task.WhenAll(
            _storage.Table(UsageTables.Touched).UpsertEntityAsync(
                new TableEntity(hour, StorageKeys.Compose(e.TenantId, e.UserId, day)), TableUpdateMode.Replace),
            _storage.Table(UsageTables.TenantDays).UpsertEntityAsync(
                new TableEntity(StorageKeys.Compose(e.TenantId, day), e.UserId), TableUpdateMode.Replace)).ConfigureAwait(false);
        state.MarkedHour = hour;
    }

    private async Task ProjectAsync(UsageEvent e, IReadOnlyList<BucketSnapshot> buckets)
    {
        try
        {
            await _projector.ProjectAsync(e.TenantId, e.UserId, e.UtcDay, buckets).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RequestFailedException or StorageContentionException)
        {
            // The events and their summaries are committed; the derived team/tenant copies catch up on the
            // next write of this partition or through the repair function.
            LogProjectionFailed(_logger, ex);
        }
    }

    private async Task<List<Pending>> ExistingAsync(string partitionKey, List<Pending> events, CancellationToken cancellationToken)
    {
        bool[] exists = await Task.WhenAll(events.Select(async p =>
            (await Events.GetEntityIfExistsAsync<TableEntity>(partitionKey, p.Event.EventId, ["Kind"], cancellationToken).ConfigureAwait(false)).HasValue))
            .ConfigureAwait(false);
        return events.Where((_, i) => exists[i]).ToList();
    }

    /// <summary>A duplicate answers with the STORED event's cost, so a retry sees what was counted.</summary>
    private async Task<RecordOutcome> DuplicateOutcomeAsync(string partitionKey, UsageEvent e)
    {
        NullableResponse<TableEntity> stored = await Events.GetEntityIfExistsAsync<TableEntity>(
            partitionKey, e.EventId, ["CostUsd", "Priced", "UnpricedReason"]).ConfigureAwait(false);
        if (!stored.HasValue)
        {
            return new RecordOutcome(e.EventId, e.EventIdGenerated, true, e.CostUsd, e.Priced, e.UnpricedReason);
        }

        TableEntity row = stored.Value!;
        return new RecordOutcome(e.EventId, e.EventIdGenerated, true,
            UsageRows.ParseMoney(row.GetString("CostUsd")), row.GetBoolean("Priced") ?? false, row.GetString("UnpricedReason"));
    }

    private void TrimIfLarge()
    {
        if (_partitions.Count <= MaxPartitionsCached)
        {
            return;
        }

        foreach ((string key, PartitionState state) in _partitions)
        {
            if (Monitor.TryEnter(state.Gate))
            {
                try
                {
                    if (!state.Draining && state.Queue.Count == 0)
                    {
                        state.Retired = true;
                        _partitions.TryRemove(new KeyValuePair<string, PartitionState>(key, state));
                    }
                }
                finally
                {
                    Monitor.Exit(state.Gate);
                }
            }
        }
    }

    [LoggerMessage(EventId = 1100, Level = LogLevel.Error, Message = "Recording a batch of {Count} usage events failed")]
    private static partial void LogCommitFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Updating derived team/tenant usage rows failed; they will be repaired")]
    private static partial void LogProjectionFailed(ILogger logger, Exception exception);

    private sealed class Pending(UsageEvent e)
    {
        public UsageEvent Event { get; } = e;
        public TaskCompletionSource<RecordOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <param name="DayIndex">Actions are: events, the day row (at this index), buckets, contributed rows.</param>
    private sealed record Plan(List<TableTransactionAction> Actions, int DayIndex, UsageTotals DayTotals, long Seq, List<BucketSnapshot> Buckets);

    /// <summary>One partition's queue and cached summary state (touched only by its single drainer).</summary>
    private sealed class PartitionState(string partitionKey)
    {
        public string PartitionKey { get; } = partitionKey;
        public object Gate { get; } = new();
        public List<Pending> Queue { get; } = [];
        public bool Draining { get; set; }
        public bool Retired { get; set; }
        public bool Loaded { get; set; }
        public SummaryRow? Day { get; set; }
        public Dictionary<BucketKey, SummaryRow> Buckets { get; } = [];
        public string? MarkedHour { get; set; }

        /// <summary>Ids recorded in this partition (by this writer, or found stored): known duplicates.</summary>
        public Dictionary<string, RecordOutcome> Recorded { get; } = new(StringComparer.Ordinal);

        /// <summary>Buckets committed but not yet copied to the team/tenant rows.</summary>
        public Dictionary<BucketKey, BucketSnapshot> Unprojected { get; } = [];
    }
}

/// <summary>A bucket's absolute totals as of transaction <paramref name="Seq"/>.</summary>
internal sealed record BucketSnapshot(BucketKey Key, UsageTotals Totals, long Seq);

/// <summary>Lets contributors read rows of the partition being written.</summary>
internal sealed class PartitionRowReader(TableClient table, string partitionKey) : IPartitionRowReader
{
    public async Task<PartitionRow?> ReadAsync(string rowKey, CancellationToken cancellationToken = default)
    {
        NullableResponse<TableEntity> row = await table.GetEntityIfExistsAsync<TableEntity>(partitionKey, rowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        return row.HasValue ? ToRow(row.Value!) : null;
    }

    public async Task<IReadOnlyList<PartitionRow>> QueryAsync(string rowKeyPrefix, CancellationToken cancellationToken = default)
    {
        if (!rowKeyPrefix.StartsWith(PartitionRowOperation.RowKeyPrefix, StringComparison.Ordinal))
        {
            throw new ArgumentException($"contributed rows start with '{PartitionRowOperation.RowKeyPrefix}'", nameof(rowKeyPrefix));
        }

        string end = rowKeyPrefix[..^1] + (char)(rowKeyPrefix[^1] + 1);
        var rows = new List<PartitionRow>();
        string filter = TableClient.CreateQueryFilter($"PartitionKey eq {partitionKey} and RowKey ge {rowKeyPrefix} and RowKey lt {end}");
        await foreach (TableEntity entity in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            rows.Add(ToRow(entity));
        }

        return rows;
    }

    private static PartitionRow ToRow(TableEntity entity) =>
        new(entity.RowKey,
            entity.Keys.Where(k => k is not ("PartitionKey" or "RowKey" or "Timestamp" or "odata.etag"))
                .ToDictionary(k => k, k => (object?)entity[k]),
            entity.ETag.ToString());
}

/// <summary>Tuning of <see cref="UsageEventWriter"/>.</summary>
public sealed class UsageWriterOptions
{
    /// <summary>At most this many events per transaction (1 turns group commit off; used to measure it).</summary>
    public int MaxEventsPerTransaction { get; set; } = UsageEventWriter.MaxActions;
}
