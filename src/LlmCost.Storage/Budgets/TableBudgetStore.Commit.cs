// Long on purpose: the commit loop, its retry rounds, and the per-tenant queues and row cache it owns are one
// concurrency design; reading them apart would hide which lock guards what.
using System.Collections.Concurrent;
using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Budgets;

namespace LlmCost.Storage.Budgets;

/// <summary>
/// The ledger's group commit: per tenant, queued commands are applied together by a few committers, each batch one
/// entity-group transaction inside the ETag retry loop, with the rows this instance last wrote kept as its cache.
/// </summary>
public sealed partial class TableBudgetStore
{
    // ---- group commit ----

    /// <summary>One committer: takes what is queued (in order), commits it, and stops when the queue is empty.</summary>
    private async Task CommitLoopAsync(TenantLedger ledger, CommandQueue queue, int committer)
    {
        while (true)
        {
            List<PendingCommand> batch;
            lock (ledger.Lock)
            {
                batch = [];
                var rows = 0;
                while (queue.Items.First is { } first && batch.Count < _options.MaxBatchCommands
                    && (batch.Count == 0 || rows + first.Value.Command.EstimatedRows <= LedgerLimits.MaxActionsPerTransaction))
                {
                    rows += first.Value.Command.EstimatedRows;
                    batch.Add(first.Value);
                    queue.Items.RemoveFirst();
                }

                if (batch.Count == 0)
                {
                    queue.Busy[committer] = false;
                    return;
                }
            }

            var committed = await RunBatchAsync(ledger, queue, committer, batch).ConfigureAwait(false);
            if (committed < batch.Count)
            {
                // What did not fit this transaction goes first into the next one, in order.
                lock (ledger.Lock)
                {
                    for (var i = batch.Count - 1; i >= committed; i--)
                    {
                        queue.Items.AddFirst(batch[i]);
                    }
                }
            }
        }
    }

    /// <summary>Commits a prefix of the batch (as many commands as one transaction holds); returns its length.</summary>
    private async Task<int> RunBatchAsync(TenantLedger ledger, CommandQueue queue, int committer, List<PendingCommand> batch)
    {
        var seeds = new Dictionary<string, RecordedSpend>(StringComparer.Ordinal);
        var carried = new RowSet();
        try
        {
            var committed = await OptimisticConcurrency.RetryAsync(
                async (attempt, ct) =>
                {
                    var (done, count) = await AttemptAsync(ledger, queue.Lanes[committer], batch, seeds, carried, ct).ConfigureAwait(false);
                    if (!done)
                    {
                        // Lost a race: another committer or instance wrote a row this one read. Move to another
                        // lane, so competing writers spread out instead of meeting again.
                        BudgetMetrics.Conflicts.Add(1, new KeyValuePair<string, object?>("queue", queue.Name));
                        queue.MoveLane(committer, _options.Lanes);
                    }

                    return (done, count);
                },
                queue == ledger.Main ? _options.MaxMainAttempts : _options.MaxAttempts,
                CancellationToken.None).ConfigureAwait(false);
            for (var i = 0; i < committed; i++)
            {
                batch[i].Done.TrySetResult();
            }

            return Math.Max(committed, 1);
        }
        catch (Exception ex)
        {
            var failure = Unavailable(ex);
            BudgetMetrics.Unavailable.Add(batch.Count);
            LogLedgerFailed(_logger, ledger.TenantId, batch.Count, ex);
            ledger.ForgetAll();
            foreach (var pending in batch)
            {
                pending.Done.TrySetException(failure);
            }

            return batch.Count;
        }
    }

    /// <summary>
    /// One read–apply–write attempt. (done, committed): done false = lost a race, retry. <paramref name="carried"/>
    /// keeps the reservation and marker rows the previous attempt read: they only ever move forward (a marker
    /// appears, a reservation closes) and every decision on them writes them with their ETag, so a retry after a
    /// main-row race re-reads only the row that failed.
    /// </summary>
    private async Task<(bool Done, int Committed)> AttemptAsync(
        TenantLedger ledger, int lane, List<PendingCommand> batch, Dictionary<string, RecordedSpend> seeds, RowSet carried, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var context = new LedgerContext(now, lane, _options.Lanes);
        var commands = batch.Select(p => p.Command).ToList();
        var rows = carried.Copy();
        var initial = new LedgerPartition(ledger.TenantId);
        await LoadAsync(ledger, rows, commands.SelectMany(c => c.RequiredKeys(initial, context)).ToList(), fresh: false, cancellationToken).ConfigureAwait(false);

        LedgerPartition partition;
        var fits = commands.Count;
        for (var round = 0; ; round++)
        {
            if (round >= MaxApplyRounds)
            {
                throw new InvalidOperationException("a budget command kept asking for more rows");
            }

            partition = rows.ToPartition(ledger.TenantId, seeds);
            fits = commands.Count;
            for (var i = 0; i < commands.Count; i++)
            {
                commands[i].Apply(partition, context);
                if (fits == commands.Count && !partition.Incomplete && partition.Writes > LedgerLimits.MaxActionsPerTransaction)
                {
                    fits = i;
                }
            }

            if (!partition.Incomplete)
            {
                break;
            }

            foreach (var request in partition.SeedRequests.Values)
            {
                seeds[request.StateKey] = _history is null
                    ? RecordedSpend.None(_time.GetUtcNow())
                    : await _history.ReadAsync(ledger.TenantId, request.Budget.Scope, request.Subject, request.Window.Start, cancellationToken).ConfigureAwait(false);
            }

            await LoadAsync(ledger, rows, partition.Missing, fresh: false, cancellationToken).ConfigureAwait(false);
            await LoadAsync(ledger, rows, partition.NeedFresh, fresh: true, cancellationToken).ConfigureAwait(false);
        }

        if (fits == 0)
        {
            // One command alone needs more rows than a transaction holds: a decision if it can be one, else a 503.
            if (commands[0].Overflow(partition.Writes))
            {
                return (true, 1);
            }

            throw new BudgetUnavailableException($"a budget command needs {partition.Writes} rows, more than one transaction holds");
        }

        if (fits < commands.Count)
        {
            // Commit the prefix that fits; the rest goes into the next transaction.
            commands = commands.Take(fits).ToList();
            partition = rows.ToPartition(ledger.TenantId, seeds);
            foreach (var command in commands)
            {
                command.Apply(partition, context);
            }
        }

        var (actions, keys) = BuildActions(ledger.TenantId, partition, rows);
        if (actions.Count == 0)
        {
            return (true, commands.Count);
        }

        if (partition.NewExpiries.Count > 0)
        {
            await EnsureRegisteredAsync(ledger, cancellationToken).ConfigureAwait(false);
        }

        TableLimits.Check(actions);
        var (status, etags, failed) = await OptimisticConcurrency.SubmitVersionedAsync(Table, actions, cancellationToken).ConfigureAwait(false);
        if (status != WriteStatus.Written)
        {
            if (failed is { } index && index >= 0 && index < keys.Count && keys[index] is { } failedKey && IsCacheable(failedKey))
            {
                // A race on a state or lane row (the contended ones): read those again, keep the reservations and
                // markers. When a reservation or marker itself changed, others of the batch likely did too: read all.
                carried.Keep(rows, key => !IsCacheable(key));
            }
            else
            {
                carried.Keep(rows, _ => false);
            }

            foreach (var key in keys.OfType<string>().Where(IsCacheable))
            {
                ledger.Forget(key);
            }

            return (false, 0);
        }

        RememberWritten(ledger, partition, actions, keys, etags);
        BudgetMetrics.Transactions.Add(1);
        BudgetMetrics.Commands.Add(commands.Count);
        return (true, commands.Count);
    }

    /// <summary>Keeps the rows just written (states, lanes, freezes) with their new ETags: the next attempt starts from them.</summary>
    private void RememberWritten(TenantLedger ledger, LedgerPartition partition, List<TableTransactionAction> actions, List<string?> keys, IReadOnlyList<ETag> etags)
    {
        var now = _time.GetUtcNow();
        for (var i = 0; i < actions.Count; i++)
        {
            if (keys[i] is not { } key || !IsCacheable(key))
            {
                continue;
            }

            if (actions[i].ActionType == TableTransactionActionType.Delete)
            {
                ledger.Cache[key] = new CachedRow(null, default, now);
            }
            else if (i < etags.Count && etags[i] != default)
            {
                object? value = partition.States.TryGetValue(key, out var state) ? state.Copy()
                    : partition.Lanes.TryGetValue(key, out var lane) ? lane.Copy()
                    : partition.Freezes.GetValueOrDefault(key);
                ledger.Cache[key] = new CachedRow(value, etags[i], now);
            }
            else
            {
                ledger.Forget(key);
            }
        }
    }

    private async Task EnsureRegisteredAsync(TenantLedger ledger, CancellationToken cancellationToken)
    {
        if (ledger.Registered)
        {
            return;
        }

        // Written before the first reservation of this tenant on this instance, so the expiry sweep finds it.
        var entity = new TableEntity(RegistryPartition, Partition(ledger.TenantId)) { ["Kind"] = "tn", ["TenantId"] = ledger.TenantId };
        await Table.UpsertEntityAsync(entity, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
        ledger.Registered = true;
    }

    private sealed record PendingCommand(LedgerCommand Command, TaskCompletionSource Done);

    private sealed record CachedRow(object? Value, ETag ETag, DateTimeOffset At);

    private sealed record AppliedMarker(DateTimeOffset AppliedAt);

    /// <summary>The tenant's freeze rows by row key, as one query read them at <paramref name="At"/> (incomplete: more than a page).</summary>
    private sealed record FreezeSet(Dictionary<string, CachedRow> Rows, DateTimeOffset At, bool Complete);

    /// <summary>One tenant on this instance: its two queues, their committers, and the rows it last saw.</summary>
    private sealed class TenantLedger(string tenantId, TableBudgetStoreOptions options)
    {
        public string TenantId { get; } = tenantId;
        public Lock Lock { get; } = new();
        public CommandQueue Hot { get; } = new("authorize", options.CommittersPerTenant);
        public CommandQueue Main { get; } = new("main", 1);
        public ConcurrentDictionary<string, CachedRow> Cache { get; } = new(StringComparer.Ordinal);
        public bool Registered { get; set; }

        /// <summary>The tenant's freezes as last read together (see <see cref="EnsureFreezeSetAsync"/>).</summary>
        public FreezeSet? Freezes { get; set; }

        /// <summary>Rows being read ahead of their staleness bound (see <see cref="ReadAhead"/>).</summary>
        public ConcurrentDictionary<string, byte> ReadingAhead { get; } = new(StringComparer.Ordinal);

        /// <summary>The read of <see cref="Freezes"/> in flight, if any (guarded by <see cref="Lock"/>).</summary>
        public Task? FreezeRead { get; set; }

        /// <summary>Drops this instance's copy of a row: of a freeze also the set, which may hold the same row older.</summary>
        public void Forget(string key)
        {
            Cache.TryRemove(key, out _);
            if (key.StartsWith("fz|", StringComparison.Ordinal))
            {
                Freezes = null;
            }
        }

        public void ForgetAll()
        {
            Cache.Clear();
            Freezes = null;
        }
    }

    /// <summary>Commands waiting in arrival order, and the committers draining them (each with its lane).</summary>
    private sealed class CommandQueue
    {
        public CommandQueue(string name, int committers)
        {
            Name = name;
            Busy = new bool[committers];
            // A random start per instance, consecutive per committer: instances rarely share a lane.
            var start = Random.Shared.Next(LedgerLimits.MaxLanes * 16);
            Lanes = Enumerable.Range(start, committers).ToArray();
        }

        public string Name { get; }
        public LinkedList<PendingCommand> Items { get; } = new();
        public bool[] Busy { get; }
        public int[] Lanes { get; }

        /// <summary>After a lost race: another lane, never one a sibling committer of this instance is using.</summary>
        public void MoveLane(int committer, int laneCount)
        {
            lock (Lanes)
            {
                var taken = Lanes.Where((_, c) => c != committer).Select(l => l % laneCount).ToHashSet();
                var free = Enumerable.Range(0, laneCount).Where(l => !taken.Contains(l)).ToList();
                Lanes[committer] = free.Count == 0 ? Random.Shared.Next(laneCount) : free[Random.Shared.Next(free.Count)];
            }
        }
    }

    /// <summary>The rows one attempt works on: value (null = absent), ETag, and whether it was read from storage now.</summary>
    private sealed class RowSet
    {
        private readonly Dictionary<string, (object? Value, ETag ETag, bool Fresh)> _rows = new(StringComparer.Ordinal);

        public bool Has(string key) => _rows.ContainsKey(key);

        public RowSet Copy()
        {
            var copy = new RowSet();
            foreach (var (key, row) in _rows)
            {
                copy._rows[key] = row;
            }

            return copy;
        }

        /// <summary>Replaces this set's rows by those of <paramref name="source"/> that match.</summary>
        public void Keep(RowSet source, Func<string, bool> keep)
        {
            _rows.Clear();
            foreach (var (key, row) in source._rows)
            {
                if (keep(key))
                {
                    _rows[key] = row;
                }
            }
        }

        public bool IsFresh(string key) => _rows.TryGetValue(key, out var row) && row.Fresh;

        public void Put(string key, object? value, ETag etag, bool fresh) => _rows[key] = (value, etag, fresh);

        public (bool Exists, ETag ETag) Version(string key) =>
            _rows.TryGetValue(key, out var row) && row.Value is not null ? (true, row.ETag) : (false, default);

        public LedgerPartition ToPartition(string tenantId, Dictionary<string, RecordedSpend> seeds)
        {
            var partition = new LedgerPartition(tenantId);
            foreach (var (key, seed) in seeds)
            {
                partition.Seeds[key] = seed;
            }

            foreach (var (key, (value, _, fresh)) in _rows)
            {
                partition.Loaded.Add(key);
                if (fresh)
                {
                    partition.Fresh.Add(key);
                }

                switch (value)
                {
                    case BudgetPeriodState state:
                        partition.States[key] = state.Copy();
                        break;
                    case BudgetLane lane:
                        partition.Lanes[key] = lane.Copy();
                        break;
                    case ReservationRecord reservation:
                        partition.Reservations[key] = reservation;
                        break;
                    case FreezeRecord freeze:
                        partition.Freezes[key] = freeze;
                        break;
                    case AppliedMarker marker:
                        partition.AppliedEvents[key] = marker.AppliedAt;
                        break;
                    default:
                        break;
                }
            }

            return partition;
        }
    }
}
