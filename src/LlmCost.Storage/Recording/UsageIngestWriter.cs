// Long on purpose: the hot path of recording (group commit per log partition, transaction size limits, acknowledgement)
// is one piece of concurrency logic.
using System.Diagnostics;
using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Recording;
using LlmCost.Core.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmCost.Storage.Recording;

/// <summary>
/// The hot path of recording: appends events to the ingest log (<see cref="UsageIngestLog"/>) with GROUP COMMIT
/// (<see cref="GroupCommit{TKey,TState,TItem,TResult}"/>). Events are queued per log partition (tenant|shard); a
/// few drainers per partition turn whatever has queued up, from any number of concurrent requests, into
/// transactions of up to 99 events: an id row per event (Add: 409 = the tenant already has this id = duplicate)
/// and ONE batch row holding all of them (<see cref="IngestBatchRow"/>). An event is acknowledged once that
/// transaction commits; the projector (<see cref="UsageProjector"/>) then applies it to its user-day partition,
/// the team/tenant rows, the indexes and the observers, off the request.
/// </summary>
/// <remarks>
/// A 100-event batch from 1,000 users therefore costs about one transaction per shard whatever the number of
/// users, and a single event costs one small id row plus its share of a batch row in a transaction shared with its
/// concurrent neighbours (~1 entity per event). The log rows carry no ETag state, so several transactions per
/// partition can be in flight at once. Every event is encoded and checked against the row limits BEFORE anything
/// is queued: an event no row could hold is refused (<see cref="UsageEventTooLargeException"/>), never half-written.
/// </remarks>
public sealed partial class UsageIngestWriter : IUsageEventStore
{
    /// <summary>Table Storage's 4 MiB transaction body, with room for the multipart framing.</summary>
    private const int MaxTransactionBytes = 4 * 1024 * 1024 - 64 * 1024;

    /// <summary>
    /// An event whose encoding is at most this many bytes fits every event-row limit, so only larger ones are checked
    /// exactly: each of its strings then has under 5,000 characters, and its tags as JSON at most 6 characters per
    /// encoded byte (a \uXXXX escape) plus braces, ≤ 30,002 of the 32,768 a string property holds.
    /// </summary>
    private const int ExactRowCheckAbove = 5_000;

    private const int MaxRecentIdsPerShard = 20_000;

    private readonly LlmCostStorage _storage;
    private readonly UsageProjector _projector;
    private readonly UsageProjectionTracker _tracker;
    private readonly UsageIngestOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<UsageIngestWriter> _logger;
    private readonly GroupCommit<string, ShardState, LogItem, RecordOutcome> _commits;

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
        int maxEvents = _options.MaxEventsPerTransaction;
        _commits = new GroupCommit<string, ShardState, LogItem, RecordOutcome>(
            static partitionKey => new ShardState(partitionKey),
            CommitAsync,
            new GroupCommitOptions<LogItem, RecordOutcome>
            {
                MaxCommitsPerKey = _options.MaxInFlightPerShard,
                NewLimit = () => new TransactionLimit(maxEvents),
                // The same id twice in one transaction: the first is written, later ones are its duplicates.
                Identity = static item => item.Event.EventId,
                Follow = static (follower, _, leader) => leader with { Duplicate = true, EventIdGenerated = follower.Event.EventIdGenerated },
            },
            StringComparer.Ordinal);
    }

    private TableClient Log => _storage.Table(UsageIngestLog.Table);

    public async Task<IReadOnlyList<RecordOutcome>> RecordAsync(IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        using Activity? activity = LlmCostTelemetry.ActivitySource.StartActivity("llmcost.ingest.record");
        activity?.SetTag("llmcost.events", events.Count);
        long started = Stopwatch.GetTimestamp();

        // Encode and check every event first: one that no row can hold refuses the call before anything is queued.
        var items = new LogItem[events.Count];
        for (int i = 0; i < events.Count; i++)
        {
            items[i] = Prepare(i, events[i]);
        }

        IngestMetrics.RequestEvents.Record(events.Count);
        var tasks = new Task<RecordOutcome>[items.Length];
        for (int i = 0; i < items.Length; i++)
        {
            UsageEvent e = items[i].Event;
            tasks[i] = _commits.Enqueue(UsageIngestLog.Partition(e.TenantId, UsageIngestLog.Shard(e.EventId, _options.Shards)), items[i]);
        }

        // The commit is not cancelled with the request: once queued, an event is either in the log or failed for
        // everybody waiting on it, never half-written; and once in the log, the projector takes it from there. The
        // outcome counters follow the commit too, not the client.
        Task<RecordOutcome[]> all = Task.WhenAll(tasks);
        _ = all.ContinueWith(static t => CountOutcomes(t.Result), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        IReadOnlyList<RecordOutcome> outcomes = await all.WaitAsync(cancellationToken).ConfigureAwait(false);
        IngestMetrics.CommitDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return outcomes;
    }

    private static void CountOutcomes(RecordOutcome[] outcomes)
    {
        int duplicates = outcomes.Count(o => o.Duplicate);
        IngestMetrics.Events.Add(outcomes.Length - duplicates, new KeyValuePair<string, object?>("outcome", "recorded"));
        if (duplicates > 0)
        {
            IngestMetrics.Events.Add(duplicates, new KeyValuePair<string, object?>("outcome", "duplicate"));
        }
    }

    /// <summary>Encodes <paramref name="e"/> for the batch row and checks that it, and its future event row, fit storage.</summary>
    private static LogItem Prepare(int index, UsageEvent e)
    {
        byte[] encoded = UsageEventCodec.Encode(e);
        if (encoded.Length > IngestBatchRow.MaxEventBytes)
        {
            long tagChars = e.Tags.Sum(t => (long)t.Key.Length + t.Value.Length);
            throw new UsageEventTooLargeException(index, tagChars * 2 >= encoded.Length / 2 ? "tags" : "event",
                $"make the event {encoded.Length} bytes once encoded; at most {IngestBatchRow.MaxEventBytes} fit a log row");
        }

        if (encoded.Length > ExactRowCheckAbove
            && TableLimits.Problem(UsageRows.EventEntity(StorageKeys.UserDayPartition(e.TenantId, e.UserId, e.UtcDay), e)) is { } problem)
        {
            throw new UsageEventTooLargeException(index, WireField(problem.Property), $"cannot be stored: {problem.Reason}");
        }

        return new LogItem(e, encoded, UsageIngestLog.IdRowWireBytes(e));
    }

    /// <summary>The submission field behind an event-row property (only free-text ones can grow).</summary>
    private static string WireField(string property) => property switch
    {
        "Tags" => "tags",
        "Model" or "PricedModel" => "model",
        "Provider" or "PricedProvider" => "provider",
        "App" => "app",
        "UserId" => "user_id",
        "TeamId" => "team_id",
        "ReservationId" => "reservation_id",
        "KeyId" => "key_id",
        _ => "event",
    };

    /// <summary>One group commit: the leaders of a partition's queue (distinct ids), one outcome each.</summary>
    private async Task<IReadOnlyList<RecordOutcome>> CommitAsync(string partitionKey, ShardState state, IReadOnlyList<LogItem> leaders)
    {
        _tracker.CommitStarted();
        try
        {
            return await CommitCoreAsync(state, leaders).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogCommitFailed(_logger, ex, leaders.Count, partitionKey);
            throw;
        }
        finally
        {
            _tracker.CommitEnded();
        }
    }

    private async Task<IReadOnlyList<RecordOutcome>> CommitCoreAsync(ShardState state, IReadOnlyList<LogItem> leaders)
    {
        var outcomes = new Dictionary<string, RecordOutcome>(StringComparer.Ordinal);

        // Ids this instance logged recently are probably duplicates (a client retry landing on the same instance),
        // but a cache never answers for storage: each hit is confirmed by reading the id row.
        List<LogItem> remaining = [];
        List<LogItem> suspects = [];
        lock (state.Recent)
        {
            foreach (LogItem item in leaders)
            {
                (state.Recent.ContainsKey(item.Event.EventId) ? suspects : remaining).Add(item);
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

        if (remaining.Count > 0)
        {
            await EnsureActiveAsync(state).ConfigureAwait(false);
            (List<LogItem> written, string batchKey) = await AppendAsync(state, remaining, outcomes).ConfigureAwait(false);
            if (written.Count > 0)
            {
                IngestMetrics.TransactionEvents.Record(written.Count);
                long[] seqs = _tracker.Acknowledge(written.Select(w => w.Event.RecordedAt).ToList());
                lock (state.Recent)
                {
                    if (state.Recent.Count > MaxRecentIdsPerShard)
                    {
                        state.Recent.Clear(); // only a cache: the id row's 409 stays correct without it
                    }

                    foreach (LogItem item in written)
                    {
                        state.Recent[item.Event.EventId] = 0;
                    }
                }

                foreach (LogItem item in written)
                {
                    UsageEvent e = item.Event;
                    outcomes[e.EventId] = new RecordOutcome(e.EventId, e.EventIdGenerated, false, e.CostUsd, e.Priced, e.UnpricedReason);
                }

                _projector.Enqueue(state.PartitionKey, new PendingBatch(batchKey, written.Select(w => w.Event).ToList(), seqs));
            }
        }

        return leaders.Select(item => outcomes[item.Event.EventId]).ToList();
    }

    /// <summary>
    /// Writes the id rows of <paramref name="events"/> and one batch row holding them all; an id already there drops
    /// its event (a duplicate, answered with the stored outcome) and the rest is retried. Returns what this call
    /// wrote: exactly the events of the batch row that committed (a transaction commits whole or not at all).
    /// </summary>
    private async Task<(List<LogItem> Written, string BatchKey)> AppendAsync(ShardState state, List<LogItem> events, Dictionary<string, RecordOutcome> outcomes)
    {
        var keyed = new List<LogItem>(events);
        var ours = new List<LogItem>();
        // Marks this call's rows: a 409 on an id row carrying it means our own earlier attempt committed (the SDK
        // retried a request whose answer was lost). It also names the batch row.
        string writeId = Guid.NewGuid().ToString("N");
        string batchKey = UsageIngestLog.BatchRowKey(events.Min(p => p.Event.RecordedAt), writeId);
        int maxAttempts = keyed.Count + 2; // every failed attempt removes at least one event
        for (int attempt = 1; keyed.Count > 0; attempt++)
        {
            var actions = new List<TableTransactionAction>(keyed.Count + 1);
            foreach (LogItem item in keyed)
            {
                actions.Add(new TableTransactionAction(TableTransactionActionType.Add, UsageIngestLog.IdEntity(state.PartitionKey, item.Event, writeId)));
            }

            actions.Add(new TableTransactionAction(TableTransactionActionType.Add,
                IngestBatchRow.Build(state.PartitionKey, batchKey, keyed.Select(k => k.Encoded).ToList())));
            OptimisticConcurrency.EnsureValidTransaction(actions);
            try
            {
                await Log.SubmitTransactionAsync(actions).ConfigureAwait(false);
                IngestMetrics.Transaction("log", "ok", actions.Count);
                ours.AddRange(keyed);
                return (ours, batchKey);
            }
            catch (TableTransactionFailedException ex) when (ex.Status == 409 && attempt < maxAttempts)
            {
                IngestMetrics.Transaction("log", "409");
                IngestMetrics.Retry("log", "409");
                // The first clash names one event; a second one suggests a resent batch: then find them all at once.
                List<int> clashing = attempt == 1 && ex.FailedTransactionActionIndex is { } index && index < keyed.Count
                    ? [index]
                    : await ClashingAsync(state.PartitionKey, keyed.Select(k => k.Event.EventId).ToList()).ConfigureAwait(false);
                if (clashing.Count == 0)
                {
                    throw; // a 409 on no id row: not a duplicate, a real failure
                }

                foreach (int i in clashing.OrderDescending())
                {
                    LogItem item = keyed[i];
                    TableEntity? stored = await ReadIdAsync(state.PartitionKey, item.Event.EventId).ConfigureAwait(false);
                    if (stored is not null && stored.GetString("WriteId") == writeId)
                    {
                        ours.Add(item); // our own earlier attempt committed, batch row included
                    }
                    else
                    {
                        outcomes[item.Event.EventId] = stored is null
                            ? new RecordOutcome(item.Event.EventId, item.Event.EventIdGenerated, true, item.Event.CostUsd, item.Event.Priced, item.Event.UnpricedReason)
                            : UsageIngestLog.OutcomeFromId(stored, item.Event);
                    }

                    keyed.RemoveAt(i);
                }
            }
        }

        return (ours, batchKey);
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

    [LoggerMessage(EventId = 1100, Level = LogLevel.Error, Message = "Logging a batch of {Count} usage events to {Partition} failed")]
    private static partial void LogCommitFailed(ILogger logger, Exception exception, int count, string partition);

    /// <param name="Encoded">The event's <see cref="UsageEventCodec"/> bytes (its share of the batch row).</param>
    /// <param name="IdWireBytes">An upper bound of its id row's share of the transaction body.</param>
    private sealed record LogItem(UsageEvent Event, byte[] Encoded, int IdWireBytes);

    /// <summary>What one log transaction may carry: 99 events, one batch row's payload, a 4 MiB body.</summary>
    private sealed class TransactionLimit(int maxEvents) : IBatchLimit<LogItem>
    {
        private int _events;
        private int _payload = IngestBatchRow.HeaderBytes;
        private long _wire = 64 * 1024;

        public bool TryAdd(LogItem item)
        {
            // Base64 carries the batch row's bytes on the wire (4 per 3); the id rows' bound is their own.
            long wire = _wire + item.IdWireBytes + (item.Encoded.Length * 4L / 3) + 4;
            if (_events >= maxEvents || _payload + item.Encoded.Length > IngestBatchRow.MaxPayloadBytes || wire > MaxTransactionBytes)
            {
                return false;
            }

            _events++;
            _payload += item.Encoded.Length;
            _wire = wire;
            return true;
        }
    }

    /// <summary>One log partition's cache (shared by its drainers).</summary>
    private sealed class ShardState(string partitionKey)
    {
        public string PartitionKey { get; } = partitionKey;
        public string? MarkedHour { get; set; }

        /// <summary>Ids this instance logged lately: a hint to read the id row instead of failing a transaction (lock it).</summary>
        public Dictionary<string, byte> Recent { get; } = new(StringComparer.Ordinal);
    }
}

/// <summary>
/// A row of the ingest log still to be applied: a batch row and its events (or a previous-format row and its one
/// event). <paramref name="Seqs"/> are this instance's ack numbers of the events (empty when found by the sweep).
/// </summary>
internal sealed record PendingBatch(string RowKey, IReadOnlyList<UsageEvent> Events, IReadOnlyList<long> Seqs);
