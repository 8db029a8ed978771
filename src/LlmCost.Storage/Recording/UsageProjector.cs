// Long on purpose: the projector's claim, apply and release cycle and its sweep of other instances' pending rows keep one set
// of invariants together (every acknowledged event applied exactly once, none lost); they are changed together.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Recording;
using LlmCost.Core.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmCost.Storage.Recording;

/// <summary>
/// Applies the ingest log's pending events EXACTLY ONCE to everything derived from them, off the request (never
/// on a client's cancellation token). One cycle, per log partition:
/// <list type="number">
/// <item>marks the touched and tenant-day indexes (before the events land, so they are a superset);</item>
/// <item>applies the events to their user-day partitions (<see cref="UserDayWriter"/>: event rows as Add, a 409
/// means "applied before", day summary and hour buckets in the same transaction);</item>
/// <item>writes the team/tenant copies of the touched buckets (absolute values with the source Seq);</item>
/// <item>hands every event of the cycle to the <see cref="IUsageRecordedObserver"/>s (idempotent per event id),
/// retried until they succeed;</item>
/// <item>deletes the batch rows (each only after every event in it went through steps 1-4).</item>
/// </list>
/// A crash anywhere leaves the batch rows, so the same cycle runs again (here after a restart, or on another
/// instance through <see cref="SweepAsync"/>); every step is idempotent, so nothing is counted twice and nothing
/// acknowledged is lost. The same holds when two projectors (this instance's and another's sweep) apply one batch
/// row at once: the event row's Add lets exactly one of them count each event, the summaries move with it in the
/// same transaction, the team/tenant copies are absolute values ordered by Seq, the observers are idempotent per
/// event id, and deleting a row that is already gone is a success.
/// </summary>
public sealed partial class UsageProjector
{
    private const int ParallelPartitions = 16;
    private const int ObserverAttempts = 6;

    private readonly LlmCostStorage _storage;
    private readonly UserDayWriter _userDays;
    private readonly SemaphoreSlim _lanes;
    private readonly UsageScopeProjector _scopes;
    private readonly IUsageRecordedObserver[] _observers;
    private readonly UsageProjectionTracker _tracker;
    private readonly UsageIngestOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<UsageProjector> _logger;
    private readonly ConcurrentDictionary<string, ShardProjector> _shards = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IReadOnlyList<long>> _localSeqs = new(StringComparer.Ordinal);
    private readonly object _indexGate = new();
    private readonly HashSet<string> _indexed = new(StringComparer.Ordinal);
    private string? _indexedHour;

    public UsageProjector(
        LlmCostStorage storage,
        UsageScopeProjector scopes,
        IEnumerable<IUsageRecordedObserver> observers,
        UsageProjectionTracker tracker,
        IOptions<UsageIngestOptions> options,
        TimeProvider time,
        ILogger<UsageProjector> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _storage = storage;
        _options = options.Value;
        _lanes = new SemaphoreSlim(_options.ProjectionConcurrency);
        _userDays = new UserDayWriter(storage, _lanes);
        _scopes = scopes;
        _observers = observers.ToArray();
        _tracker = tracker;
        _time = time;
        _logger = logger;
    }

    private TableClient Log => _storage.Table(UsageIngestLog.Table);

    /// <summary>A batch row this instance just logged: project it now (unless the background projector is off).</summary>
    internal void Enqueue(string logPartition, PendingBatch batch)
    {
        _localSeqs[batch.RowKey] = batch.Seqs;
        ShardProjector shard = Shard(logPartition);
        lock (shard.Gate)
        {
            if (shard.Known.Add(batch.RowKey))
            {
                shard.Enqueue(batch);
            }
        }

        if (_options.RunProjector)
        {
            Kick(shard, null);
        }
    }

    /// <summary>
    /// Drops a user's events from the batches this instance queued but has not started to apply (a GDPR erasure,
    /// after the rows in storage were rewritten without them). The batches' ack numbers stay, so read barriers waiting
    /// on them are released as usual.
    /// </summary>
    internal void DropUser(string tenantId, string userId)
    {
        foreach (ShardProjector shard in _shards.Values)
        {
            lock (shard.Gate)
            {
                shard.RemoveEvents(e => e.TenantId == tenantId && e.UserId == userId);
            }
        }
    }

    /// <summary>
    /// Finds log partitions (of any instance) holding pending rows older than <see cref="UsageIngestOptions.SweepAge"/>
    /// and starts projecting them. Returns how many events such rows hold (the first 1,000 rows per partition are counted).
    /// </summary>
    public Task<long> SweepAsync(CancellationToken cancellationToken = default) =>
        SweepAsync(_options.SweepAge, wait: false, cancellationToken);

    /// <summary>
    /// Applies everything pending now, of this instance and of any other, whatever its age, and returns when
    /// nothing is left (tests, tools, a graceful shutdown). Gives up after <paramref name="timeout"/>.
    /// </summary>
    public async Task DrainAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout ?? TimeSpan.FromMinutes(2));
        while (true)
        {
            await Task.WhenAll(_shards.Values.Select(s => Kick(s, null))).WaitAsync(deadline.Token).ConfigureAwait(false);
            if (await SweepAsync(TimeSpan.Zero, wait: true, deadline.Token).ConfigureAwait(false) == 0)
            {
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), deadline.Token).ConfigureAwait(false);
        }
    }

    private async Task<long> SweepAsync(TimeSpan minAge, bool wait, CancellationToken cancellationToken)
    {
        DateTimeOffset now = _time.GetUtcNow();
        string since = UsageIngestLog.ActiveHour(now - _options.ActiveWindow);
        // Pending keys sort by receipt time: everything below this key is at least minAge old.
        string before = minAge == TimeSpan.Zero ? UsageIngestLog.PendingPrefixEnd : UsageIngestLog.PendingKeyBefore(now - minAge);
        var partitions = new List<string>();
        string filter = TableClient.CreateQueryFilter($"PartitionKey eq {UsageIngestLog.ActivePartition} and LastWrite ge {since}");
        await foreach (TableEntity row in _storage.Table(UsageIngestLog.ActiveTable)
            .QueryAsync<TableEntity>(filter, select: ["RowKey"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            partitions.Add(row.RowKey);
        }

        long pending = 0;
        DateTimeOffset? oldest = null;
        var started = new List<Task>();
        using var gate = new SemaphoreSlim(8);
        await Task.WhenAll(partitions.Select(async partition =>
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                string query = TableClient.CreateQueryFilter(
                    $"PartitionKey eq {partition} and RowKey ge {UsageIngestLog.PendingPrefix} and RowKey lt {before}");
                await foreach (Page<TableEntity> page in Log.QueryAsync<TableEntity>(query, maxPerPage: 1000, select: ["RowKey", "Kind", "Events"], cancellationToken: cancellationToken)
                    .AsPages(pageSizeHint: 1000).ConfigureAwait(false))
                {
                    if (page.Values.Count > 0)
                    {
                        Interlocked.Add(ref pending, page.Values.Sum(IngestBatchRow.EventCount));
                        lock (started)
                        {
                            if (UsageIngestLog.TryParsePendingTicks(page.Values[0].RowKey, out DateTimeOffset received))
                            {
                                oldest = oldest is null || received < oldest ? received : oldest;
                            }

                            started.Add(Kick(Shard(partition), before));
                        }
                    }

                    break; // the first page is enough to know and to start
                }
            }
            finally
            {
                gate.Release();
            }
        })).ConfigureAwait(false);

        if (minAge > TimeSpan.Zero)
        {
            _tracker.SweepObserved(pending, oldest);
        }

        if (wait)
        {
            await Task.WhenAll(started).WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        return pending;
    }

    private ShardProjector Shard(string logPartition) => _shards.GetOrAdd(logPartition, static pk => new ShardProjector(pk));

    /// <summary>
    /// Starts the shard's single projection loop (or asks the running one to also read pending rows from storage
    /// with keys below <paramref name="sweepBefore"/>); returns the loop's completion.
    /// </summary>
    private Task Kick(ShardProjector shard, string? sweepBefore)
    {
        lock (shard.Gate)
        {
            if (sweepBefore is not null && (shard.SweepBefore is null || string.CompareOrdinal(sweepBefore, shard.SweepBefore) > 0))
            {
                shard.SweepBefore = sweepBefore;
            }

            if (shard.Active && shard.Running is { } running)
            {
                return running;
            }

            shard.Active = true;
            shard.Running = Task.Run(() => RunAsync(shard));
            return shard.Running;
        }
    }

    private async Task RunAsync(ShardProjector shard)
    {
        while (true)
        {
            await DeferWhileIngestIsBusyAsync(shard).ConfigureAwait(false);
            List<PendingBatch> batch;
            string? sweep;
            lock (shard.Gate)
            {
                // Whole rows only: a row is deleted after a cycle, so all of its events must be in that cycle.
                batch = [];
                int events = 0;
                while (events < _options.MaxProjectionBatch && shard.TryDequeue(out PendingBatch? row))
                {
                    batch.Add(row);
                    events += row.Events.Count;
                }

                sweep = batch.Count == 0 ? shard.SweepBefore : null;
                if (sweep is not null)
                {
                    shard.SweepBefore = null;
                }

                if (batch.Count == 0 && sweep is null)
                {
                    shard.Active = false; // decided under the gate, so a Kick after this starts a new loop
                    return;
                }
            }

            try
            {
                if (sweep is not null)
                {
                    batch = await ReadPendingAsync(shard, sweep).ConfigureAwait(false);
                    if (batch.Count == 0)
                    {
                        continue;
                    }

                    if (batch.Sum(b => b.Events.Count) >= _options.MaxProjectionBatch)
                    {
                        lock (shard.Gate)
                        {
                            shard.SweepBefore ??= sweep; // more behind this page: read on after this cycle
                        }
                    }
                }

                await ProjectAsync(shard.PartitionKey, batch, sweep is not null ? "sweep" : "local").ConfigureAwait(false);
                var applied = new List<long>();
                foreach (PendingBatch row in batch)
                {
                    if (_localSeqs.TryRemove(row.RowKey, out IReadOnlyList<long>? seqs))
                    {
                        applied.AddRange(seqs);
                    }
                }

                _tracker.Applied(applied);
            }
            catch (Exception ex)
            {
                // The pending rows stay: the sweep retries them once they are older than SweepAge. The tracker keeps
                // them outstanding until then, so queries on this instance wait (bounded) rather than read a gap.
                IngestMetrics.ProjectionFailures.Add(1);
                LogProjectionFailed(_logger, ex, batch.Sum(b => b.Events.Count), shard.PartitionKey);
            }
            finally
            {
                lock (shard.Gate)
                {
                    foreach (PendingBatch row in batch)
                    {
                        shard.Known.Remove(row.RowKey);
                    }
                }
            }
        }
    }

    /// <summary>
    /// While clients are waiting on the ingest log, projection waits (at most <see cref="UsageIngestOptions.ProjectionDeferral"/>,
    /// or until a full cycle has queued up): the answer to a client comes first, and a later, larger cycle applies
    /// more events per user-day transaction. The lag this costs is bounded and visible in the lag metric.
    /// </summary>
    private async Task DeferWhileIngestIsBusyAsync(ShardProjector shard)
    {
        long started = Environment.TickCount64;
        while (_tracker.IngestBusy && Environment.TickCount64 - started < (long)_options.ProjectionDeferral.TotalMilliseconds)
        {
            lock (shard.Gate)
            {
                if (shard.QueuedEvents >= _options.MaxProjectionBatch)
                {
                    return;
                }
            }

            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The oldest pending rows of a partition past their writer's turn (and not already queued here), whole rows
    /// until they hold <see cref="UsageIngestOptions.MaxProjectionBatch"/> events.
    /// </summary>
    private async Task<List<PendingBatch>> ReadPendingAsync(ShardProjector shard, string before)
    {
        string filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {shard.PartitionKey} and RowKey ge {UsageIngestLog.PendingPrefix} and RowKey lt {before}");
        var parsed = new List<PendingBatch>();
        int events = 0;
        // Batch rows can be large: read a modest page at a time and stop once a cycle's worth is in hand.
        await foreach (Page<TableEntity> page in Log.QueryAsync<TableEntity>(filter, maxPerPage: 100).AsPages(pageSizeHint: 100).ConfigureAwait(false))
        {
            IngestMetrics.Transaction("sweep_read", "ok");
            foreach (TableEntity row in page.Values)
            {
                try
                {
                    List<UsageEvent> rowEvents = UsageIngestLog.ReadPending(row);
                    parsed.Add(new PendingBatch(row.RowKey, rowEvents, []));
                    events += rowEvents.Count;
                }
                catch (Exception ex) when (ex is InvalidDataException or FormatException or InvalidOperationException or System.Text.Json.JsonException)
                {
                    // Only this service writes pending rows; one that cannot be read (e.g. written by a newer version)
                    // is kept, counted and logged for a human or a newer instance, and must not block the rows behind it.
                    IngestMetrics.ProjectionFailures.Add(1);
                    LogUnreadablePending(_logger, ex, row.RowKey, shard.PartitionKey);
                }
            }

            if (events >= _options.MaxProjectionBatch)
            {
                break;
            }
        }

        lock (shard.Gate)
        {
            return parsed.Where(row => shard.Known.Add(row.RowKey)).ToList(); // else queued locally already
        }
    }

    /// <summary>
    /// One projection cycle over whole pending rows of one log partition (steps 1-5 above). The rows are deleted
    /// only after every step succeeded for every event in them; a failure leaves them all for a re-run.
    /// </summary>
    internal async Task ProjectAsync(string logPartition, IReadOnlyList<PendingBatch> batch, string source)
    {
        List<UsageEvent> events = batch.SelectMany(b => b.Events).ToList();
        using Activity? activity = LlmCostTelemetry.ActivitySource.StartActivity("llmcost.ingest.project");
        activity?.SetTag("llmcost.events", events.Count);
        activity?.SetTag("llmcost.rows", batch.Count);
        activity?.SetTag("llmcost.source", source);
        long started = Stopwatch.GetTimestamp();

        await EnsureIndexedAsync(events).ConfigureAwait(false);

        UserDayResult[] results = await _userDays.ApplyAsync(events).ConfigureAwait(false);

        var scopeWrites = events
            .Select((e, i) => (e.TenantId, e.UtcDay, Bucket: new UsageScopeProjector.UserBucket(e.UserId, results[i].Bucket)))
            .GroupBy(x => (x.TenantId, x.UtcDay))
            .Select(g => InLaneAsync(() => _scopes.ProjectAsync(g.Key.TenantId, g.Key.UtcDay, g.Select(x => x.Bucket).ToList())));
        await Task.WhenAll(scopeWrites).ConfigureAwait(false);

        await NotifyObserversAsync(events).ConfigureAwait(false);

        await DeletePendingAsync(logPartition, batch.Select(b => b.RowKey).ToList()).ConfigureAwait(false);

        int added = results.Count(r => r.Added);
        IngestMetrics.Projected.Add(added, new KeyValuePair<string, object?>("source", source), new KeyValuePair<string, object?>("new", true));
        if (added < results.Length)
        {
            IngestMetrics.Projected.Add(results.Length - added, new KeyValuePair<string, object?>("source", source), new KeyValuePair<string, object?>("new", false));
        }

        IngestMetrics.ProjectionDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    private async Task InLaneAsync(Func<Task> work)
    {
        await _lanes.WaitAsync().ConfigureAwait(false);
        try
        {
            await work().ConfigureAwait(false);
        }
        finally
        {
            _lanes.Release();
        }
    }

    private async Task NotifyObserversAsync(IReadOnlyList<UsageEvent> events)
    {
        foreach (IUsageRecordedObserver observer in _observers)
        {
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    // Never a request's token: the events are acknowledged, so they must reach the observers.
                    await observer.OnRecordedAsync(events, CancellationToken.None).ConfigureAwait(false);
                    break;
                }
                catch (Exception ex) when (attempt < ObserverAttempts)
                {
                    IngestMetrics.Retry("observers", "error");
                    LogObserverRetry(_logger, ex, observer.GetType().Name, attempt);
                    // A back-off, not a timestamp: real time, so a fixed test clock cannot stall projection.
                    await Task.Delay(TimeSpan.FromMilliseconds(50 << attempt), TimeProvider.System).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>
    /// Marks the touched (processing hour) and tenant-day indexes before the events land, once per user-day and
    /// hour on this instance, in as few transactions as the partitions allow.
    /// </summary>
    private async Task EnsureIndexedAsync(IReadOnlyList<UsageEvent> events)
    {
        string hour = UsageTables.TouchedPartition(_time.GetUtcNow());
        var todo = new List<UserDay>();
        lock (_indexGate)
        {
            if (_indexedHour != hour)
            {
                _indexed.Clear();
                _indexedHour = hour;
            }

            foreach (UsageEvent e in events)
            {
                var userDay = new UserDay(e.TenantId, e.UserId, e.UtcDay);
                if (!_indexed.Contains(Key(userDay)))
                {
                    todo.Add(userDay);
                }
            }
        }

        if (todo.Count == 0)
        {
            return;
        }

        todo = todo.Distinct().ToList();
        var writes = new List<Task>();
        TableClient touched = _storage.Table(UsageTables.Touched);
        foreach (UserDay[] chunk in todo.Chunk(UserDayWriter.MaxActions))
        {
            writes.Add(UpsertAsync(touched, chunk.Select(d => new TableEntity(hour, Key(d))).ToList()));
        }

        TableClient tenantDays = _storage.Table(UsageTables.TenantDays);
        foreach (IGrouping<(string TenantId, DateOnly Day), UserDay> group in todo.GroupBy(d => (d.TenantId, d.Day)))
        {
            string partition = StorageKeys.Compose(group.Key.TenantId, StorageKeys.Day(group.Key.Day));
            foreach (UserDay[] chunk in group.Chunk(UserDayWriter.MaxActions))
            {
                writes.Add(UpsertAsync(tenantDays, chunk.Select(d => new TableEntity(partition, d.UserId)).ToList()));
            }
        }

        await Task.WhenAll(writes).ConfigureAwait(false);
        lock (_indexGate)
        {
            if (_indexedHour == hour)
            {
                foreach (UserDay d in todo)
                {
                    _indexed.Add(Key(d));
                }
            }
        }

        static string Key(UserDay d) => StorageKeys.Compose(d.TenantId, d.UserId, StorageKeys.Day(d.Day));
    }

    private static async Task UpsertAsync(TableClient table, List<TableEntity> rows)
    {
        var actions = rows.Select(r => new TableTransactionAction(TableTransactionActionType.UpsertReplace, r)).ToList();
        OptimisticConcurrency.EnsureValidTransaction(actions);
        await table.SubmitTransactionAsync(actions).ConfigureAwait(false);
        IngestMetrics.Transaction("indexes", "ok", actions.Count);
    }

    /// <summary>Deletes applied pending rows, 100 per transaction; a row already gone (another projector) is skipped.</summary>
    private async Task DeletePendingAsync(string logPartition, List<string> keys)
    {
        foreach (string[] chunk in keys.Distinct(StringComparer.Ordinal).Chunk(UserDayWriter.MaxActions))
        {
            List<string> remaining = [.. chunk];
            while (remaining.Count > 0)
            {
                var actions = remaining.Select(k => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(logPartition, k), ETag.All)).ToList();
                try
                {
                    await Log.SubmitTransactionAsync(actions).ConfigureAwait(false);
                    IngestMetrics.Transaction("cleanup", "ok", actions.Count);
                    break;
                }
                catch (TableTransactionFailedException ex) when (ex.Status == 404)
                {
                    IngestMetrics.Transaction("cleanup", "404");
                    IngestMetrics.Retry("cleanup", "404");
                    if (ex.FailedTransactionActionIndex is { } i && i < remaining.Count)
                    {
                        remaining.RemoveAt(i);
                        continue;
                    }

                    foreach (string key in remaining)
                    {
                        await Log.DeleteEntityAsync(logPartition, key, ETag.All).ConfigureAwait(false); // 404 = done
                    }

                    break;
                }
            }
        }
    }

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Projecting {Count} pending usage events of {Partition} failed; they stay pending and are retried")]
    private static partial void LogProjectionFailed(ILogger logger, Exception exception, int count, string partition);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Error, Message = "Pending usage row {RowKey} of {Partition} cannot be read; left in place")]
    private static partial void LogUnreadablePending(ILogger logger, Exception exception, string rowKey, string partition);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Warning, Message = "Usage observer {Observer} failed (attempt {Attempt}); retrying")]
    private static partial void LogObserverRetry(ILogger logger, Exception exception, string observer, int attempt);

    /// <summary>One log partition's local queue and its single projection loop (lock <see cref="Gate"/>).</summary>
    private sealed class ShardProjector(string partitionKey)
    {
        private readonly Queue<PendingBatch> _queue = new();

        public string PartitionKey { get; } = partitionKey;
        public object Gate { get; } = new();

        /// <summary>Events in the queued rows.</summary>
        public int QueuedEvents { get; private set; }

        /// <summary>Pending row keys queued or in flight here (the sweep skips them).</summary>
        public HashSet<string> Known { get; } = new(StringComparer.Ordinal);

        public void Enqueue(PendingBatch batch)
        {
            _queue.Enqueue(batch);
            QueuedEvents += batch.Events.Count;
        }

        public void RemoveEvents(Func<UsageEvent, bool> drop)
        {
            int count = _queue.Count;
            for (int i = 0; i < count; i++)
            {
                PendingBatch batch = _queue.Dequeue();
                List<UsageEvent> kept = batch.Events.Where(e => !drop(e)).ToList();
                QueuedEvents -= batch.Events.Count - kept.Count;
                _queue.Enqueue(kept.Count == batch.Events.Count ? batch : batch with { Events = kept });
            }
        }

        public bool TryDequeue([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PendingBatch? batch)
        {
            if (_queue.TryDequeue(out batch))
            {
                QueuedEvents -= batch.Events.Count;
                return true;
            }

            return false;
        }

        /// <summary>When set, the loop also reads pending rows with keys below this from storage.</summary>
        public string? SweepBefore { get; set; }
        public bool Active { get; set; }
        public Task? Running { get; set; }
    }
}
