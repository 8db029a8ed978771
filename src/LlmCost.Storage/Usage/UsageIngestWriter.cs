using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Recording;
using LlmCost.Core.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmCost.Storage.Usage;

/// <summary>
/// The hot path of recording: appends events to the ingest log (<see cref="UsageIngestLog"/>) with GROUP COMMIT.
/// Events are queued per log partition (tenant|shard); a few drainers per partition turn whatever has queued up,
/// from any number of concurrent requests, into transactions of up to 50 events, each event an id row (Add:
/// 409 = the tenant already has this id = duplicate) and a pending row (the whole event). An event is
/// acknowledged once that transaction commits; the projector (<see cref="UsageProjector"/>) then applies it to
/// its user-day partition, the team/tenant rows, the indexes and the observers, off the request.
/// </summary>
/// <remarks>
/// A 100-event batch from 1,000 users therefore costs about one transaction per shard, whatever the number of
/// users, and a single event costs one entity pair in a transaction shared with its concurrent neighbours. The log
/// rows carry no ETag state, so several transactions per partition can be in flight at once.
/// </remarks>
public sealed partial class UsageIngestWriter : IUsageEventStore
{
    /// <summary>Keeps a transaction body well under Table Storage's 4 MiB.</summary>
    private const int MaxTransactionBytes = 3 * 1024 * 1024;

    private const int MaxRecentIdsPerShard = 20_000;
    private const int MaxShardsCached = 50_000;

    private readonly LlmCostStorage _storage;
    private readonly UsageProjector _projector;
    private readonly UsageProjectionTracker _tracker;
    private readonly UsageIngestOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<UsageIngestWriter> _logger;
    private readonly ConcurrentDictionary<string, ShardState> _shards = new(StringComparer.Ordinal);

    public UsageIngestWriter(
        LlmCostStorage storage,
        UsageProjector projector,
        UsageProjectionTracker tracker,
        IOptions<UsageIngestOptions> options,
        TimeProvider time,
        ILogger<UsageIngestWriter> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _storage = storage;
        _projector = projector;
        _tracker = tracker;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    private TableClient Log => _storage.Table(UsageIngestLog.Table);

    public async Task<IReadOnlyList<RecordOutcome>> RecordAsync(IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        using Activity? activity = LlmCostTelemetry.ActivitySource.StartActivity("llmcost.ingest.record");
        activity?.SetTag("llmcost.events", events.Count);
        long started = Stopwatch.GetTimestamp();
        IngestMetrics.RequestEvents.Record(events.Count);
        var tasks = new Task<RecordOutcome>[events.Count];
        for (int i = 0; i < events.Count; i++)
        {
            UsageEvent e = events[i];
            int shard = UsageIngestLog.Shard(e.EventId, _options.Shards);
            tasks[i] = Enqueue(UsageIngestLog.Partition(e.TenantId, shard), e);
        }

        // The commit is not cancelled with the request: once queued, an event is either in the log or failed for
        // everybody waiting on it, never half-written; and once in the log, the projector takes it from there.
        IReadOnlyList<RecordOutcome> outcomes = await Task.WhenAll(tasks).WaitAsync(cancellationToken).ConfigureAwait(false);
        IngestMetrics.CommitDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return outcomes;
    }

    private Task<RecordOutcome> Enqueue(string partitionKey, UsageEvent e)
    {
        var pending = new Pending(e, UsageIngestLog.EstimatedBytes(e));
        while (true)
        {
            ShardState state = _shards.GetOrAdd(partitionKey, static pk => new ShardState(pk));
            bool startDrainer;
            lock (state.Gate)
            {
                if (state.Retired)
                {
                    continue; // trimmed from the cache between GetOrAdd and the lock: take the fresh one
                }

                state.Queue.Add(pending);
                startDrainer = state.Drainers < _options.MaxInFlightPerShard;
                if (startDrainer)
                {
                    state.Drainers++;
                }
            }

            if (startDrainer)
            {
                _ = Task.Run(() => DrainAsync(state));
            }

            return pending.Completion.Task;
        }
    }

    private async Task DrainAsync(ShardState state)
    {
        while (true)
        {
            List<Pending> batch;
            lock (state.Gate)
            {
                if (state.Queue.Count == 0)
                {
                    state.Drainers--;
                    TrimIfLarge();
                    return;
                }

                batch = TakeBatch(state);
            }

            _tracker.CommitStarted();
            try
            {
                await CommitAsync(state, batch).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                LogCommitFailed(_logger, ex, batch.Count);
                foreach (Pending p in batch)
                {
                    p.Completion.TrySetException(ex);
                }
            }
            finally
            {
                _tracker.CommitEnded();
            }
        }
    }

    private List<Pending> TakeBatch(ShardState state)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        int taken = 0;
        int bytes = 0;
        foreach (Pending p in state.Queue)
        {
            bool repeat = ids.Contains(p.Event.EventId);
            if (!repeat && (ids.Count == _options.MaxEventsPerTransaction || (ids.Count > 0 && bytes + p.Bytes > MaxTransactionBytes)))
            {
                break;
            }

            if (!repeat)
            {
                ids.Add(p.Event.EventId);
                bytes += p.Bytes;
            }

            taken++;
        }

        List<Pending> batch = state.Queue.GetRange(0, taken);
        state.Queue.RemoveRange(0, taken);
        return batch;
    }

    private async Task CommitAsync(ShardState state, List<Pending> batch)
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

        var outcomes = new Dictionary<string, RecordOutcome>(StringComparer.Ordinal);

        // Ids this instance logged recently are probably duplicates (a client retry landing on the same instance),
        // but a cache never answers for storage: each hit is confirmed by reading the id row.
        List<Pending> remaining = [];
        List<Pending> suspects = [];
        lock (state.Gate)
        {
            foreach (Pending p in leaders)
            {
                (state.Recent.ContainsKey(p.Event.EventId) ? suspects : remaining).Add(p);
            }
        }

        if (suspects.Count > 0)
        {
            TableEntity?[] stored = await Task.WhenAll(suspects.Select(p => ReadIdAsync(state.PartitionKey, p.Event.EventId))).ConfigureAwait(false);
            for (int i = 0; i < suspects.Count; i++)
            {
                if (stored[i] is { } row)
                {
                    outcomes[suspects[i].Event.EventId] = UsageIngestLog.OutcomeFromId(row, suspects[i].Event);
                }
                else
                {
                    remaining.Add(suspects[i]); // the cache remembered an id that storage does not hold
                }
            }
        }

        var written = new List<(Pending Item, string PendingKey)>();
        if (remaining.Count > 0)
        {
            await EnsureActiveAsync(state).ConfigureAwait(false);
            written = await AppendAsync(state, remaining, outcomes).ConfigureAwait(false);
        }

        if (written.Count > 0)
        {
            IngestMetrics.TransactionEvents.Record(written.Count);
            long[] seqs = _tracker.Acknowledge(written.Select(w => w.Item.Event.RecordedAt).ToList());
            var items = new List<PendingItem>(written.Count);
            lock (state.Gate)
            {
                if (state.Recent.Count > MaxRecentIdsPerShard)
                {
                    state.Recent.Clear(); // only a cache: the id row's 409 stays correct without it
                }

                for (int i = 0; i < written.Count; i++)
                {
                    UsageEvent e = written[i].Item.Event;
                    state.Recent[e.EventId] = 0;
                    outcomes[e.EventId] = new RecordOutcome(e.EventId, e.EventIdGenerated, false, e.CostUsd, e.Priced, e.UnpricedReason);
                    items.Add(new PendingItem(written[i].PendingKey, e, seqs[i]));
                }
            }

            _projector.Enqueue(state.PartitionKey, items);
        }

        int duplicates = 0;
        foreach (Pending p in leaders)
        {
            RecordOutcome outcome = outcomes[p.Event.EventId];
            duplicates += outcome.Duplicate ? 1 : 0;
            p.Completion.TrySetResult(outcome);
        }

        foreach ((Pending follower, Pending leader) in followers)
        {
            RecordOutcome o = outcomes[leader.Event.EventId];
            duplicates++;
            follower.Completion.TrySetResult(o with { Duplicate = true, EventIdGenerated = follower.Event.EventIdGenerated });
        }

        IngestMetrics.Events.Add(batch.Count - duplicates, new KeyValuePair<string, object?>("outcome", "recorded"));
        if (duplicates > 0)
        {
            IngestMetrics.Events.Add(duplicates, new KeyValuePair<string, object?>("outcome", "duplicate"));
        }
    }

    /// <summary>
    /// Writes id + pending rows for <paramref name="events"/>; an id already there drops its event (duplicate,
    /// answered with the stored outcome) and the rest is retried. Returns what this call wrote.
    /// </summary>
    private async Task<List<(Pending Item, string PendingKey)>> AppendAsync(ShardState state, List<Pending> events, Dictionary<string, RecordOutcome> outcomes)
    {
        var keyed = events.Select(p => (Item: p, PendingKey: UsageIngestLog.PendingRowKey(p.Event.RecordedAt, p.Event.EventId))).ToList();
        var ours = new List<(Pending Item, string PendingKey)>();
        // Marks this call's id rows: a 409 on a row carrying it means our own earlier attempt committed.
        string writeId = Guid.NewGuid().ToString("N");
        int maxAttempts = keyed.Count + 2; // every failed attempt removes at least one event
        for (int attempt = 1; keyed.Count > 0; attempt++)
        {
            var actions = new List<TableTransactionAction>(keyed.Count * 2);
            foreach ((Pending p, string pendingKey) in keyed)
            {
                actions.Add(new TableTransactionAction(TableTransactionActionType.Add, UsageIngestLog.IdEntity(state.PartitionKey, p.Event, pendingKey, writeId)));
                actions.Add(new TableTransactionAction(TableTransactionActionType.Add, UsageIngestLog.PendingEntity(state.PartitionKey, pendingKey, p.Event)));
            }

            OptimisticConcurrency.EnsureValidTransaction(actions);
            try
            {
                await Log.SubmitTransactionAsync(actions).ConfigureAwait(false);
                IngestMetrics.Transaction("log", "ok", actions.Count);
                ours.AddRange(keyed);
                return ours;
            }
            catch (TableTransactionFailedException ex) when (ex.Status == 409 && attempt < maxAttempts)
            {
                IngestMetrics.Transaction("log", "409");
                IngestMetrics.Retry("log", "409");
                // The first clash names one event; a second one suggests a resent batch: then find them all at once.
                List<int> clashing = attempt == 1 && ex.FailedTransactionActionIndex is { } index && index / 2 < keyed.Count
                    ? [index / 2]
                    : await ClashingAsync(state.PartitionKey, keyed.Select(k => k.Item.Event.EventId).ToList()).ConfigureAwait(false);
                if (clashing.Count == 0)
                {
                    throw; // a 409 on no id row: not a duplicate, a real failure
                }

                foreach (int i in clashing.OrderDescending())
                {
                    (Pending p, string pendingKey) = keyed[i];
                    TableEntity? stored = await ReadIdAsync(state.PartitionKey, p.Event.EventId).ConfigureAwait(false);
                    if (stored is not null && stored.GetString("WriteId") == writeId)
                    {
                        // Our own earlier attempt committed (the SDK retried a request whose answer was lost).
                        ours.Add(keyed[i]);
                    }
                    else
                    {
                        outcomes[p.Event.EventId] = stored is null
                            ? new RecordOutcome(p.Event.EventId, p.Event.EventIdGenerated, true, p.Event.CostUsd, p.Event.Priced, p.Event.UnpricedReason)
                            : UsageIngestLog.OutcomeFromId(stored, p.Event);
                    }

                    keyed.RemoveAt(i);
                }
            }
        }

        return ours;
    }

    private async Task<List<int>> ClashingAsync(string partitionKey, List<string> eventIds)
    {
        TableEntity?[] rows = await Task.WhenAll(eventIds.Select(id => ReadIdAsync(partitionKey, id))).ConfigureAwait(false);
        return Enumerable.Range(0, rows.Length).Where(i => rows[i] is not null).ToList();
    }

    private async Task<TableEntity?> ReadIdAsync(string partitionKey, string eventId)
    {
        NullableResponse<TableEntity> row = await Log.GetEntityIfExistsAsync<TableEntity>(
            partitionKey, eventId, ["CostUsd", "Priced", "UnpricedReason", "WriteId"]).ConfigureAwait(false);
        IngestMetrics.Transaction("log_read", row.HasValue ? "ok" : "404");
        return row.HasValue ? row.Value : null;
    }

    /// <summary>
    /// Marks the log partition in the active-shards index BEFORE its first write of the hour, so the sweep's view
    /// of where pending rows may be is a superset, never a gap.
    /// </summary>
    private async Task EnsureActiveAsync(ShardState state)
    {
        string hour = UsageIngestLog.ActiveHour(_time.GetUtcNow());
        if (state.MarkedHour == hour)
        {
            return;
        }

        await _storage.Table(UsageIngestLog.ActiveTable).UpsertEntityAsync(
            new TableEntity(UsageIngestLog.ActivePartition, state.PartitionKey) { ["LastWrite"] = hour }, TableUpdateMode.Replace).ConfigureAwait(false);
        IngestMetrics.Transaction("indexes", "ok", 1);
        state.MarkedHour = hour;
    }

    private void TrimIfLarge()
    {
        if (_shards.Count <= MaxShardsCached)
        {
            return;
        }

        foreach ((string key, ShardState state) in _shards)
        {
            if (Monitor.TryEnter(state.Gate))
            {
                try
                {
                    if (state.Drainers == 0 && state.Queue.Count == 0)
                    {
                        state.Retired = true;
                        _shards.TryRemove(new KeyValuePair<string, ShardState>(key, state));
                    }
                }
                finally
                {
                    Monitor.Exit(state.Gate);
                }
            }
        }
    }

    [LoggerMessage(EventId = 1100, Level = LogLevel.Error, Message = "Logging a batch of {Count} usage events failed")]
    private static partial void LogCommitFailed(ILogger logger, Exception exception, int count);

    private sealed class Pending(UsageEvent e, int bytes)
    {
        public UsageEvent Event { get; } = e;
        public int Bytes { get; } = bytes;
        public TaskCompletionSource<RecordOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>One log partition's queue and cache.</summary>
    private sealed class ShardState(string partitionKey)
    {
        public string PartitionKey { get; } = partitionKey;
        public object Gate { get; } = new();
        public List<Pending> Queue { get; } = [];
        public int Drainers { get; set; }
        public bool Retired { get; set; }
        public string? MarkedHour { get; set; }

        /// <summary>Ids this instance logged lately: a hint to read the id row instead of failing a transaction.</summary>
        public Dictionary<string, byte> Recent { get; } = new(StringComparer.Ordinal);
    }
}

/// <summary>An event in the ingest log, not yet applied. <paramref name="Seq"/> is this instance's ack number (0 when found by the sweep).</summary>
internal sealed record PendingItem(string PendingKey, UsageEvent Event, long Seq);
