using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Alerts;
using LlmCost.Core.Budgets;
using LlmCost.Core.Audit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmCost.Storage.Budgets;

/// <summary>Tuning of the Table Storage ledger (configuration <c>LlmCost:Budgets:Ledger</c>).</summary>
public sealed record TableBudgetStoreOptions
{
    /// <summary>Escrow lanes of a new period state (1 to <see cref="LedgerLimits.MaxLanes"/>).</summary>
    public int Lanes { get; init; } = LedgerLimits.DefaultLanes;

    /// <summary>Authorisation transactions one instance keeps in flight per tenant, each on its own lane.</summary>
    public int CommittersPerTenant { get; init; } = 3;

    /// <summary>How long a row this instance read but did not write may be reused without reading it again.</summary>
    public TimeSpan CacheStaleness { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Conflicting attempts of an authorisation transaction before its callers get a 503.</summary>
    public int MaxAttempts { get; init; } = 20;

    /// <summary>
    /// Conflicting attempts of a main-row transaction (settlements, expiry, freezes): every instance's settlements
    /// meet on the state's main row, so they may wait longer; their callers are background work that retries anyway.
    /// </summary>
    public int MaxMainAttempts { get; init; } = 100;

    /// <summary>Commands (each at least one row) a committer takes from the queue at once.</summary>
    public int MaxBatchCommands { get; init; } = 100;
}

/// <summary>
/// The budget ports on Table Storage. One table (<c>{prefix}budgets</c>), one partition per tenant holding every
/// row that must change together: definitions (df|), audit lines (au|), period states and their escrow lanes
/// (st|), reservations (rs|) and their expiry index (xp|), freezes (fz|), applied-event markers (ev|) and
/// recorded alerts (al|). A ledger command batch is one entity-group transaction whose updates carry the ETags
/// read, so concurrent writers on any number of instances serialise per row: one wins, the others re-read and
/// re-apply (bounded, jittered, via <see cref="OptimisticConcurrency"/>).
/// </summary>
/// <remarks>
/// Throughput: an authorisation writes its reservation row, its expiry row and one lane per budget; different
/// committers (two per tenant per instance by default) and different instances use different lanes, so they do
/// not write the same row and do not conflict. Commands that arrive while a committer is busy are applied
/// together in its next transaction (group commit, packed up to 100 actions). Rows this instance wrote are kept
/// with their ETags, so an authorisation reads nothing in the steady state: one round trip. A stale row is caught
/// by its ETag (the write fails, the attempt re-reads); a refusal, which writes nothing, is always confirmed on
/// rows read in that attempt.
/// </remarks>
public sealed partial class TableBudgetStore : IBudgetRepository, IBudgetLedger, IPendingAlertSource
{
    public const string TableName = "budgets";

    /// <summary>Tenants with reservations, for the expiry sweep: a partition no tenant id can name (ids exclude '|').</summary>
    internal const string RegistryPartition = "|reservation-tenants";

    /// <summary>Table Storage rejects a filter with more than 15 discrete comparisons.</summary>
    private const int KeysPerQuery = 14;

    private const int MaxApplyRounds = 8;

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
    };

    private readonly LlmCostStorage _storage;
    private readonly TimeProvider _time;
    private readonly IBudgetSpendHistory? _history;
    private readonly TableBudgetStoreOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, TenantLedger> _tenants = new(StringComparer.Ordinal);

    public TableBudgetStore(
        LlmCostStorage storage,
        TimeProvider time,
        IBudgetSpendHistory? history = null,
        TableBudgetStoreOptions? options = null,
        ILogger<TableBudgetStore>? logger = null)
    {
        _storage = storage;
        _time = time;
        _history = history;
        _options = options ?? new TableBudgetStoreOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.Lanes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(_options.Lanes, LedgerLimits.MaxLanes);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.CommittersPerTenant, 1);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    private TableClient Table => _storage.Table(TableName);

    // ---- definitions and audit ----

    public Task<BudgetDefinition?> GetAsync(string budgetId, CancellationToken cancellationToken = default) => GuardAsync(async () =>
    {
        if (!BudgetValidator.TryGetTenant(budgetId, out var tenantId))
        {
            return null;
        }

        var row = await Table.GetEntityIfExistsAsync<TableEntity>(Partition(tenantId), RowKey(DefinitionKey(budgetId)), cancellationToken: cancellationToken).ConfigureAwait(false);
        return row.HasValue ? JsonSerializer.Deserialize<BudgetDefinition>(row.Value!.GetString("Json"), Json) : null;
    }, cancellationToken);

    public Task<IReadOnlyList<BudgetDefinition>> ListAsync(string tenantId, CancellationToken cancellationToken = default) => GuardAsync<IReadOnlyList<BudgetDefinition>>(async () =>
    {
        var budgets = new List<BudgetDefinition>();
        await foreach (var entity in QueryPrefixAsync(tenantId, "df|", cancellationToken).ConfigureAwait(false))
        {
            budgets.Add(JsonSerializer.Deserialize<BudgetDefinition>(entity.GetString("Json"), Json)!);
        }

        return budgets;
    }, cancellationToken);

    public Task<bool> SaveAsync(BudgetDefinition budget, AuditEntry audit, bool create, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(budget);
        ArgumentNullException.ThrowIfNull(audit);
        var entity = new TableEntity(Partition(budget.TenantId), RowKey(DefinitionKey(budget.BudgetId)))
        {
            ["Kind"] = "df",
            ["Json"] = JsonSerializer.Serialize(budget, Json),
        };
        TableTransactionAction write = create
            ? new TableTransactionAction(TableTransactionActionType.Add, entity)
            : new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, ETag.All);
        return GuardAsync(() => SubmitOrMissingAsync([write, new TableTransactionAction(TableTransactionActionType.Add, AuditEntity(audit))], cancellationToken), cancellationToken);
    }

    public Task<bool> DeleteAsync(BudgetDefinition budget, AuditEntry audit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(budget);
        ArgumentNullException.ThrowIfNull(audit);
        var entity = new TableEntity(Partition(budget.TenantId), RowKey(DefinitionKey(budget.BudgetId)));
        return GuardAsync(() => SubmitOrMissingAsync(
            [new TableTransactionAction(TableTransactionActionType.Delete, entity, ETag.All), new TableTransactionAction(TableTransactionActionType.Add, AuditEntity(audit))],
            cancellationToken), cancellationToken);
    }

    public Task<IReadOnlyList<AuditEntry>> ListAuditAsync(string tenantId, int max, CancellationToken cancellationToken = default) => GuardAsync<IReadOnlyList<AuditEntry>>(async () =>
    {
        var entries = new List<AuditEntry>();
        await foreach (var entity in QueryPrefixAsync(tenantId, "au|", cancellationToken).ConfigureAwait(false))
        {
            entries.Add(JsonSerializer.Deserialize<AuditEntry>(entity.GetString("Json"), Json)!);
            if (entries.Count >= max)
            {
                break;
            }
        }

        return entries;
    }, cancellationToken);

    // ---- ledger ----

    public Task ExecuteAsync(LedgerCommand command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        var ledger = _tenants.GetOrAdd(command.TenantId, t => new TenantLedger(t, _options));
        var pending = new PendingCommand(command, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        // Authorisations write lanes (each committer its own); everything else writes main rows. Keeping them on
        // separate committers means a settlement batch never makes an authorisation wait for its main-row race.
        var queue = command is AuthorizeCommand ? ledger.Hot : ledger.Main;
        int? committer = null;
        lock (ledger.Lock)
        {
            queue.Items.AddLast(pending);
            for (var c = 0; c < queue.Busy.Length && committer is null; c++)
            {
                if (!queue.Busy[c])
                {
                    queue.Busy[c] = true;
                    committer = c;
                }
            }
        }

        if (committer is { } index)
        {
            _ = Task.Run(() => CommitLoopAsync(ledger, queue, index), CancellationToken.None);
        }

        // The command runs to completion even if the caller gives up: a client abort never half-applies it.
        return pending.Done.Task.WaitAsync(cancellationToken);
    }

    public Task<LedgerPartition> ReadAsync(string tenantId, IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default) => GuardAsync(async () =>
    {
        ArgumentNullException.ThrowIfNull(keys);
        var rows = new RowSet();
        await LoadAsync(_tenants.GetOrAdd(tenantId, t => new TenantLedger(t, _options)), rows, keys, fresh: true, cancellationToken).ConfigureAwait(false);
        return rows.ToPartition(tenantId, new Dictionary<string, RecordedSpend>(StringComparer.Ordinal));
    }, cancellationToken);

    public Task<IReadOnlyList<string>> ListReservationTenantsAsync(CancellationToken cancellationToken = default) => GuardAsync<IReadOnlyList<string>>(async () =>
    {
        var tenants = new List<string>();
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {RegistryPartition}");
        await foreach (var entity in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            tenants.Add(entity.GetString("TenantId"));
        }

        return tenants;
    }, cancellationToken);

    public Task<IReadOnlyList<string>> ListDueReservationsAsync(string tenantId, DateTimeOffset now, int max, CancellationToken cancellationToken = default) => GuardAsync<IReadOnlyList<string>>(async () =>
    {
        var upper = string.Create(CultureInfo.InvariantCulture, $"xp|{now.UtcTicks:D19}|~");
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition(tenantId)} and RowKey ge {"xp|"} and RowKey le {upper}");
        var due = new List<string>();
        await foreach (var entity in Table.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(max, 1000), select: ["ReservationId"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            due.Add(entity.GetString("ReservationId"));
            if (due.Count >= max)
            {
                break;
            }
        }

        return due;
    }, cancellationToken);

    public Task<IReadOnlyList<FreezeRecord>> ListFreezesAsync(string tenantId, CancellationToken cancellationToken = default) => GuardAsync<IReadOnlyList<FreezeRecord>>(async () =>
    {
        var freezes = new List<FreezeRecord>();
        await foreach (var entity in QueryPrefixAsync(tenantId, "fz|", cancellationToken).ConfigureAwait(false))
        {
            freezes.Add(JsonSerializer.Deserialize<FreezeRecord>(entity.GetString("Json"), Json)!);
        }

        return freezes;
    }, cancellationToken);

    public Task<int> PruneAsync(string tenantId, DateTimeOffset markersAppliedBefore, DateTimeOffset reservationsCreatedBefore, int max, CancellationToken cancellationToken = default) => GuardAsync(async () =>
    {
        var pk = Partition(tenantId);
        // Markers are keyed by their event's UTC day; an event applied before the cutoff happened at most a few
        // minutes after it, so markers of days after the cutoff's day are never due.
        var markerUpper = "ev|" + markersAppliedBefore.UtcDateTime.AddDays(1).ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        var markers = TableClient.CreateQueryFilter($"PartitionKey eq {pk} and RowKey ge {"ev|"} and RowKey lt {markerUpper} and AppliedAt lt {markersAppliedBefore.UtcDateTime}");
        // Reservation ids start with their UTC day, so closed ones older than the cutoff are a key range.
        var reservationUpper = "rs|rsv_" + reservationsCreatedBefore.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        var reservations = TableClient.CreateQueryFilter($"PartitionKey eq {pk} and RowKey ge {"rs|rsv_"} and RowKey lt {reservationUpper} and Status ne {nameof(ReservationStatus.Active)}");
        var deleted = 0;
        foreach (var filter in new[] { markers, reservations })
        {
            var keys = new List<string>();
            await foreach (var entity in Table.QueryAsync<TableEntity>(filter, select: ["RowKey"], cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                keys.Add(entity.RowKey);
                if (deleted + keys.Count >= max)
                {
                    break;
                }
            }

            deleted += await DeleteRowsAsync(pk, keys, cancellationToken).ConfigureAwait(false);
            if (deleted >= max)
            {
                break;
            }
        }

        return deleted;
    }, cancellationToken);

    public Task<IReadOnlyList<ReservationRecord>> ListUserReservationsAsync(string tenantId, string userId, CancellationToken cancellationToken = default) => GuardAsync<IReadOnlyList<ReservationRecord>>(async () =>
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition(tenantId)} and RowKey ge {"rs|"} and RowKey lt {"rs}"} and UserId eq {userId}");
        var found = new List<ReservationRecord>();
        await foreach (var entity in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            found.Add(JsonSerializer.Deserialize<ReservationRecord>(entity.GetString("Json"), Json)!);
        }

        return found;
    }, cancellationToken);

    public Task<IReadOnlyDictionary<string, int>> DeleteUserRowsAsync(string tenantId, string userId, CancellationToken cancellationToken = default) => GuardAsync<IReadOnlyDictionary<string, int>>(async () =>
    {
        var pk = Partition(tenantId);
        // Only user-scoped budgets (the user's own and every-user ones) keep a state per user; a team budget whose
        // team happens to share the user's id is not theirs.
        var userBudgets = (await ListAsync(tenantId, cancellationToken).ConfigureAwait(false))
            .Where(b => b.Scope == BudgetScope.User).Select(b => b.BudgetId)
            .Append(DefaultMonthlyBudget.IdFor(tenantId))
            .ToHashSet(StringComparer.Ordinal);
        var states = new List<string>();
        var lanes = new List<string>();
        var stateFilter = TableClient.CreateQueryFilter($"PartitionKey eq {pk} and RowKey ge {"st|"} and RowKey lt {"st}"} and Subject eq {userId}");
        await foreach (var entity in Table.QueryAsync<TableEntity>(stateFilter, select: ["RowKey", "Kind", "BudgetId"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (userBudgets.Contains(entity.GetString("BudgetId") ?? string.Empty))
            {
                (entity.GetString("Kind") == "ln" ? lanes : states).Add(entity.RowKey);
            }
        }

        var reservations = new List<string>();
        var reservationFilter = TableClient.CreateQueryFilter($"PartitionKey eq {pk} and RowKey ge {"rs|"} and RowKey lt {"rs}"} and UserId eq {userId} and Status ne {nameof(ReservationStatus.Active)}");
        await foreach (var entity in Table.QueryAsync<TableEntity>(reservationFilter, select: ["RowKey"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            reservations.Add(entity.RowKey);
        }

        var alerts = new List<string>();
        var alertFilter = TableClient.CreateQueryFilter($"PartitionKey eq {pk} and RowKey ge {"al|"} and RowKey lt {"al}"} and Scope eq {"user"} and ScopeId eq {userId}");
        await foreach (var entity in Table.QueryAsync<TableEntity>(alertFilter, select: ["RowKey"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            alerts.Add(entity.RowKey);
        }

        var freezes = new List<string>();
        var freezeKey = RowKey(BudgetKeys.Freeze(BudgetScope.User, userId));
        if ((await Table.GetEntityIfExistsAsync<TableEntity>(pk, freezeKey, select: ["RowKey"], cancellationToken: cancellationToken).ConfigureAwait(false)).HasValue)
        {
            freezes.Add(freezeKey);
        }

        var counts = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            ["states"] = await DeleteRowsAsync(pk, states, cancellationToken).ConfigureAwait(false),
            ["lanes"] = await DeleteRowsAsync(pk, lanes, cancellationToken).ConfigureAwait(false),
            ["reservations"] = await DeleteRowsAsync(pk, reservations, cancellationToken).ConfigureAwait(false),
            ["alerts"] = await DeleteRowsAsync(pk, alerts, cancellationToken).ConfigureAwait(false),
            ["freezes"] = await DeleteRowsAsync(pk, freezes, cancellationToken).ConfigureAwait(false),
        };

        // This instance's cached copies of the deleted rows are gone too.
        if (_tenants.TryGetValue(tenantId, out var ledger))
        {
            ledger.Cache.Clear();
        }

        return counts;
    }, cancellationToken);

    // ---- pending alerts ----

    public Task<IReadOnlyList<Alert>> ListPendingAsync(string? tenantId, int max, CancellationToken cancellationToken = default) => GuardAsync<IReadOnlyList<Alert>>(async () =>
    {
        var filter = tenantId is null
            ? TableClient.CreateQueryFilter($"Kind eq {"al"} and Dispatched eq {false}")
            : TableClient.CreateQueryFilter($"PartitionKey eq {Partition(tenantId)} and Kind eq {"al"} and Dispatched eq {false}");
        var alerts = new List<(long Sequence, Alert Alert)>();
        await foreach (var entity in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            alerts.Add((entity.GetInt64("Sequence") ?? 0, JsonSerializer.Deserialize<Alert>(entity.GetString("Json"), Json)!));
        }

        return alerts.OrderBy(a => a.Alert.CreatedAt).ThenBy(a => a.Sequence).Take(max).Select(a => a.Alert).ToList();
    }, cancellationToken);

    public Task MarkDispatchedAsync(IReadOnlyList<Alert> alerts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(alerts);
        return GuardAsync(async () =>
        {
            foreach (var group in alerts.GroupBy(a => a.TenantId, StringComparer.Ordinal))
            {
                foreach (var chunk in group.DistinctBy(a => a.AlertId).Chunk(100))
                {
                    var actions = chunk.Select(a => new TableTransactionAction(
                        TableTransactionActionType.UpdateMerge,
                        new TableEntity(Partition(group.Key), RowKey(BudgetKeys.Alert(a.AlertId))) { ["Dispatched"] = true },
                        ETag.All)).ToList();
                    await SubmitOrMissingAsync(actions, cancellationToken).ConfigureAwait(false);
                }
            }

            return true;
        }, cancellationToken);
    }

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
            ledger.Cache.Clear();
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
                ledger.Cache.TryRemove(key, out _);
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
                ledger.Cache.TryRemove(key, out _);
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

    // ---- reading rows ----

    private static bool IsCacheable(string logicalKey) =>
        logicalKey.StartsWith("st|", StringComparison.Ordinal) || logicalKey.StartsWith("fz|", StringComparison.Ordinal);

    /// <summary>
    /// Loads <paramref name="keys"/> into <paramref name="rows"/>: from this instance's cache when allowed and
    /// recent (states, lanes, freezes), else from storage. A state's main row and its lanes are read in one query,
    /// so what is read of one budget is one consistent snapshot of it.
    /// </summary>
    private async Task LoadAsync(TenantLedger ledger, RowSet rows, IEnumerable<string> keys, bool fresh, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var toRead = new List<string>();
        foreach (var key in keys.Distinct(StringComparer.Ordinal))
        {
            if (rows.IsFresh(key) || (!fresh && rows.Has(key)))
            {
                continue;
            }

            if (!fresh && IsCacheable(key) && ledger.Cache.TryGetValue(key, out var cached) && cached.At + _options.CacheStaleness > now)
            {
                rows.Put(key, cached.Value, cached.ETag, fresh: false);
                continue;
            }

            toRead.Add(key);
        }

        if (toRead.Count == 0)
        {
            return;
        }

        // Main rows with their lanes first, then everything else, packed into queries of at most 14 keys.
        var groups = toRead.GroupBy(k => BudgetKeys.IsLane(k) ? BudgetKeys.StateOfLane(k) : k.StartsWith("st|", StringComparison.Ordinal) ? k : "~" + k, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => g.ToList());
        var chunks = new List<List<string>>();
        foreach (var group in groups)
        {
            if (chunks.Count == 0 || chunks[^1].Count + group.Count > KeysPerQuery)
            {
                chunks.Add([]);
            }

            chunks[^1].AddRange(group);
        }

        var pk = Partition(ledger.TenantId);
        var results = await Task.WhenAll(chunks.Select(async chunk =>
        {
            var filter = new StringBuilder($"PartitionKey eq '{Quote(pk)}' and (");
            filter.AppendJoin(" or ", chunk.Select(k => $"RowKey eq '{Quote(RowKey(k))}'")).Append(')');
            var found = new List<TableEntity>();
            await foreach (var entity in Table.QueryAsync<TableEntity>(filter.ToString(), cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                found.Add(entity);
            }

            return (chunk, found);
        })).ConfigureAwait(false);

        foreach (var (chunk, found) in results)
        {
            var byRowKey = found.ToDictionary(e => e.RowKey, StringComparer.Ordinal);
            foreach (var key in chunk)
            {
                var rowKey = RowKey(key);
                if (byRowKey.TryGetValue(rowKey, out var entity))
                {
                    var value = FromEntity(key, entity);
                    rows.Put(key, value, entity.ETag, fresh: true);
                    if (IsCacheable(key))
                    {
                        ledger.Cache[key] = new CachedRow(value, entity.ETag, now);
                    }
                }
                else
                {
                    rows.Put(key, null, default, fresh: true);
                    if (IsCacheable(key))
                    {
                        ledger.Cache[key] = new CachedRow(null, default, now);
                    }
                }
            }
        }
    }

    private static object? FromEntity(string key, TableEntity entity) => entity.GetString("Kind") switch
    {
        "st" => StateFromEntity(entity),
        "ln" => LaneFromEntity(key, entity),
        "rs" => JsonSerializer.Deserialize<ReservationRecord>(entity.GetString("Json"), Json),
        "fz" => JsonSerializer.Deserialize<FreezeRecord>(entity.GetString("Json"), Json),
        "ev" => new AppliedMarker(entity.GetDateTimeOffset("AppliedAt") ?? DateTimeOffset.MinValue),
        _ => null,
    };

    // ---- writing rows ----

    /// <summary>The transaction's actions, and the logical key of each (null for audit lines).</summary>
    private static (List<TableTransactionAction> Actions, List<string?> Keys) BuildActions(string tenantId, LedgerPartition partition, RowSet rows)
    {
        var pk = Partition(tenantId);
        var actions = new List<TableTransactionAction>();
        var keys = new List<string?>();

        void Add(string? key, TableTransactionAction action)
        {
            actions.Add(action);
            keys.Add(key);
        }

        void Write(string key, TableEntity entity)
        {
            entity.PartitionKey = pk;
            entity.RowKey = RowKey(key);
            var (exists, etag) = rows.Version(key);
            Add(key, exists
                ? new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, etag)
                : new TableTransactionAction(TableTransactionActionType.Add, entity));
        }

        // Reservations and lanes before the index rows they guard: a concurrent close fails the reservation's
        // ETag (412) before its expiry row's delete could fail on absence (404).
        foreach (var key in partition.Changed.Order(StringComparer.Ordinal))
        {
            if (partition.States.TryGetValue(key, out var state))
            {
                Write(key, StateEntity(state));
            }
            else if (partition.Lanes.TryGetValue(key, out var lane))
            {
                Write(key, LaneEntity(lane));
            }
            else if (partition.Reservations.TryGetValue(key, out var reservation))
            {
                Write(key, new TableEntity
                {
                    ["Kind"] = "rs",
                    ["UserId"] = reservation.UserId,
                    ["Status"] = reservation.Status.ToString(),
                    ["CreatedAt"] = reservation.CreatedAt,
                    ["ExpiresAt"] = reservation.ExpiresAt,
                    ["Json"] = JsonSerializer.Serialize(reservation, Json),
                });
            }
            else if (partition.Freezes.TryGetValue(key, out var freeze))
            {
                Write(key, new TableEntity { ["Kind"] = "fz", ["Json"] = JsonSerializer.Serialize(freeze, Json) });
            }
            else if (rows.Version(key) is (true, var etag))
            {
                // A lifted freeze: delete the row it was read from (and only that version of it).
                Add(key, new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(pk, RowKey(key)), etag));
            }
        }

        foreach (var key in partition.Deleted.Order(StringComparer.Ordinal))
        {
            Add(key, new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(pk, RowKey(key)), ETag.All));
        }

        foreach (var (key, reservation) in partition.NewExpiries)
        {
            Write(key, new TableEntity { ["Kind"] = "xp", ["ReservationId"] = reservation.ReservationId, ["ExpiresAt"] = reservation.ExpiresAt });
        }

        foreach (var (key, applied) in partition.NewEventMarkers)
        {
            Write(key, new TableEntity { ["Kind"] = "ev", ["AppliedAt"] = applied });
        }

        foreach (var (key, alert) in partition.NewAlerts)
        {
            Write(key, new TableEntity
            {
                ["Kind"] = "al",
                ["Dispatched"] = false,
                ["CreatedAt"] = alert.CreatedAt,
                ["Sequence"] = (long)actions.Count,
                ["Scope"] = alert.Scope,
                ["ScopeId"] = alert.ScopeId,
                ["Json"] = JsonSerializer.Serialize(alert, Json),
            });
        }

        foreach (var audit in partition.NewAuditEntries)
        {
            Add(null, new TableTransactionAction(TableTransactionActionType.Add, AuditEntity(audit)));
        }

        return (actions, keys);
    }

    private static TableEntity StateEntity(BudgetPeriodState state)
    {
        var s = state.ToSnapshot();
        return new TableEntity
        {
            ["Kind"] = "st",
            ["BudgetId"] = s.BudgetId,
            ["Subject"] = s.Subject,
            ["PeriodStart"] = s.Window.Start,
            ["PeriodEnd"] = s.Window.End,
            ["LaneCount"] = s.LaneCount,
            // Decimals as invariant strings: a double would not be exact.
            ["SpentUsd"] = s.SpentUsd.ToString(CultureInfo.InvariantCulture),
            ["SpentTokens"] = s.SpentTokens,
            ["UnpricedEvents"] = s.UnpricedEvents,
            ["EventCount"] = s.EventCount,
            ["Granted"] = s.Granted.ToString(CultureInfo.InvariantCulture),
            ["LimitVersion"] = s.LimitVersion,
            ["SeedCutoff"] = s.SeedCutoff,
            ["SeedUsd"] = s.SeedUsd.ToString(CultureInfo.InvariantCulture),
            ["SeedTokens"] = s.SeedTokens,
            ["SeedEvents"] = s.SeedEvents,
            ["LateSettlements"] = s.LateSettlements,
            ["Fired"] = JsonSerializer.Serialize(s.Fired, Json),
            ["Deltas"] = JsonSerializer.Serialize(s.Deltas, Json),
            ["BreakerWindowStart"] = s.BreakerWindowStart,
            ["BreakerWindowSpentUsd"] = s.BreakerWindowSpentUsd.ToString(CultureInfo.InvariantCulture),
            ["TrippedUntil"] = s.TrippedUntil,
        };
    }

    private static BudgetPeriodState StateFromEntity(TableEntity entity) => BudgetPeriodState.Restore(new PeriodStateSnapshot
    {
        BudgetId = entity.GetString("BudgetId"),
        Subject = entity.GetString("Subject"),
        Window = new PeriodWindow(entity.GetDateTimeOffset("PeriodStart")!.Value, entity.GetDateTimeOffset("PeriodEnd")!.Value),
        LaneCount = entity.GetInt32("LaneCount") ?? 1,
        SpentUsd = Money(entity, "SpentUsd"),
        SpentTokens = entity.GetInt64("SpentTokens") ?? 0,
        UnpricedEvents = entity.GetInt64("UnpricedEvents") ?? 0,
        EventCount = entity.GetInt64("EventCount") ?? 0,
        Granted = Money(entity, "Granted"),
        LimitVersion = entity.GetString("LimitVersion"),
        SeedCutoff = entity.GetDateTimeOffset("SeedCutoff"),
        SeedUsd = Money(entity, "SeedUsd"),
        SeedTokens = entity.GetInt64("SeedTokens") ?? 0,
        SeedEvents = entity.GetInt64("SeedEvents") ?? 0,
        LateSettlements = entity.GetInt64("LateSettlements") ?? 0,
        Fired = JsonSerializer.Deserialize<List<string>>(entity.GetString("Fired") ?? "[]", Json) ?? [],
        Deltas = JsonSerializer.Deserialize<List<LaneDelta>>(entity.GetString("Deltas") ?? "[]", Json) ?? [],
        BreakerWindowStart = entity.GetDateTimeOffset("BreakerWindowStart"),
        BreakerWindowSpentUsd = Money(entity, "BreakerWindowSpentUsd"),
        TrippedUntil = entity.GetDateTimeOffset("TrippedUntil"),
    });

    private static TableEntity LaneEntity(BudgetLane lane)
    {
        // Budget and subject repeated on the lane so a user's erasure finds it by a filter.
        var segments = lane.StateKey.Split('|');
        return new TableEntity
        {
            ["Kind"] = "ln",
            ["BudgetId"] = Unescape(segments[1]),
            ["Subject"] = Unescape(segments[2]),
            ["Epoch"] = lane.Epoch,
            ["Grant"] = lane.Grant.ToString(CultureInfo.InvariantCulture),
            ["ReservedUsd"] = lane.ReservedUsd.ToString(CultureInfo.InvariantCulture),
            ["ReservedTokens"] = lane.ReservedTokens,
            ["Open"] = lane.Open,
        };
    }

    private static BudgetLane LaneFromEntity(string key, TableEntity entity)
    {
        var separator = key.LastIndexOf('|');
        return new BudgetLane(key[..separator], int.Parse(key.AsSpan(separator + 2), CultureInfo.InvariantCulture))
        {
            Epoch = entity.GetInt64("Epoch") ?? 0,
            Grant = Money(entity, "Grant"),
            ReservedUsd = Money(entity, "ReservedUsd"),
            ReservedTokens = entity.GetInt64("ReservedTokens") ?? 0,
            Open = entity.GetInt64("Open") ?? 0,
        };
    }

    private static decimal Money(TableEntity entity, string name) =>
        entity.GetString(name) is { } text ? decimal.Parse(text, CultureInfo.InvariantCulture) : 0m;

    /// <summary>Reverses <see cref="BudgetKeys.Escape"/>.</summary>
    private static string Unescape(string segment) =>
        segment.Replace("%7C", "|", StringComparison.Ordinal).Replace("%25", "%", StringComparison.Ordinal);

    /// <summary>The pending audit row of <paramref name="audit"/> (its outbox: <see cref="BudgetAuditOutbox"/>).</summary>
    internal static string AuditRowKey(AuditEntry audit)
    {
        // Newest first under a plain range query: inverted ticks, then the id for uniqueness.
        var inverted = (DateTimeOffset.MaxValue.UtcTicks - audit.At.UtcTicks).ToString("D19", CultureInfo.InvariantCulture);
        return RowKey($"au|{inverted}|{audit.AuditId}");
    }

    private static TableEntity AuditEntity(AuditEntry audit)
    {
        return new TableEntity(Partition(audit.TenantId), AuditRowKey(audit))
        {
            ["Kind"] = "au",
            ["Action"] = audit.Action,
            ["Actor"] = audit.Actor,
            ["At"] = audit.At,
            ["Json"] = JsonSerializer.Serialize(audit, Json),
        };
    }

    /// <summary>Deletes rows by key in transactions of 100; a row already gone (deleted concurrently) is skipped.</summary>
    private async Task<int> DeleteRowsAsync(string pk, IReadOnlyList<string> rowKeys, CancellationToken cancellationToken)
    {
        var deleted = 0;
        foreach (var chunk in rowKeys.Chunk(100))
        {
            var actions = chunk.Select(rk => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(pk, rk), ETag.All)).ToList();
            var (status, _, _) = await OptimisticConcurrency.SubmitVersionedAsync(Table, actions, cancellationToken).ConfigureAwait(false);
            if (status == WriteStatus.Written)
            {
                deleted += chunk.Length;
                continue;
            }

            foreach (var rk in chunk)
            {
                try
                {
                    await Table.DeleteEntityAsync(pk, rk, ETag.All, cancellationToken).ConfigureAwait(false);
                    deleted++;
                }
                catch (RequestFailedException ex) when (ex.Status == 404)
                {
                    // Gone already.
                }
            }
        }

        return deleted;
    }

    private async Task<bool> SubmitOrMissingAsync(IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken)
    {
        try
        {
            var result = await OptimisticConcurrency.SubmitAsync(Table, actions, cancellationToken).ConfigureAwait(false);
            return result.Succeeded;
        }
        catch (TableTransactionFailedException ex) when (ex.Status == 404)
        {
            return false;
        }
    }

    private IAsyncEnumerable<TableEntity> QueryPrefixAsync(string tenantId, string prefix, CancellationToken cancellationToken)
    {
        // '|' + 1 = '}': everything that starts with the prefix.
        var upper = prefix[..^1] + (char)(prefix[^1] + 1);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition(tenantId)} and RowKey ge {prefix} and RowKey lt {upper}");
        return Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Storage failures that are not decisions (unreachable, throttled, a limit, contention beyond the retry
    /// bound) surface as <see cref="BudgetUnavailableException"/>, which the host answers with 503 + Retry-After.
    /// The caller's own cancellation stays a cancellation.
    /// </summary>
    private async Task<T> GuardAsync<T>(Func<Task<T>> action, CancellationToken cancellationToken)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not BudgetUnavailableException && !(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            BudgetMetrics.Unavailable.Add(1);
            LogStoreFailed(_logger, ex);
            throw Unavailable(ex);
        }
    }

    private static BudgetUnavailableException Unavailable(Exception ex) => ex switch
    {
        BudgetUnavailableException unavailable => unavailable,
        StorageContentionException => new BudgetUnavailableException("budget storage is contended; retry shortly", ex) { RetryAfter = TimeSpan.FromSeconds(1) },
        RequestFailedException { Status: 429 or 503 } => new BudgetUnavailableException("budget storage is throttling; retry shortly", ex) { RetryAfter = TimeSpan.FromSeconds(2) },
        _ => new BudgetUnavailableException("budget storage is unavailable; retry shortly", ex) { RetryAfter = TimeSpan.FromSeconds(2) },
    };

    private static string DefinitionKey(string budgetId) => $"df|{BudgetKeys.Escape(budgetId)}";

    /// <summary>Tenant ids are validated ids (no key-forbidden characters); escaping keeps any other text safe.</summary>
    internal static string Partition(string tenantId) => StorageKeys.Escape(tenantId);

    /// <summary>Core's logical keys keep '|' as separator; each segment is escaped for Table Storage's rules.</summary>
    internal static string RowKey(string logicalKey)
    {
        var rowKey = string.Join('|', logicalKey.Split('|').Select(StorageKeys.Escape));
        StorageKeys.EnsureKey(rowKey, nameof(logicalKey));
        return rowKey;
    }

    private static string Quote(string value) => value.Replace("'", "''", StringComparison.Ordinal);

    [LoggerMessage(EventId = 5110, Level = LogLevel.Error, Message = "Budget ledger transaction for tenant {TenantId} failed ({Commands} commands answered 503)")]
    private static partial void LogLedgerFailed(ILogger logger, string tenantId, int commands, Exception exception);

    [LoggerMessage(EventId = 5111, Level = LogLevel.Warning, Message = "Budget storage read or write failed (answered 503)")]
    private static partial void LogStoreFailed(ILogger logger, Exception exception);

    private sealed record PendingCommand(LedgerCommand Command, TaskCompletionSource Done);

    private sealed record CachedRow(object? Value, ETag ETag, DateTimeOffset At);

    private sealed record AppliedMarker(DateTimeOffset AppliedAt);

    /// <summary>One tenant on this instance: its two queues, their committers, and the rows it last saw.</summary>
    private sealed class TenantLedger(string tenantId, TableBudgetStoreOptions options)
    {
        public string TenantId { get; } = tenantId;
        public Lock Lock { get; } = new();
        public CommandQueue Hot { get; } = new("authorize", options.CommittersPerTenant);
        public CommandQueue Main { get; } = new("main", 1);
        public ConcurrentDictionary<string, CachedRow> Cache { get; } = new(StringComparer.Ordinal);
        public bool Registered { get; set; }
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
