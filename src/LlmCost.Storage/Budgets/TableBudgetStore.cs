// Long on purpose: every port operation (definitions, ledger, pending alerts, erasure) is a short use of the group
// commit (TableBudgetStore.Commit.cs) and the row codecs (TableBudgetStore.Rows.cs); together they are one adapter.
using System.Collections.Concurrent;
using System.Globalization;
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

    /// <summary>Freezes of a tenant kept as one set (one page of a query); a tenant with more has them read per key.</summary>
    internal int FreezeSetLimit { get; init; } = 1000;
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

    /// <summary>How long a tenant with more freezes than <see cref="TableBudgetStoreOptions.FreezeSetLimit"/> is read per key before the set is tried again.</summary>
    private static readonly TimeSpan TooManyFreezesRetry = TimeSpan.FromMinutes(1);

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
            ledger.ForgetAll();
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

    [LoggerMessage(EventId = 5110, Level = LogLevel.Error, Message = "Budget ledger transaction for tenant {TenantId} failed ({Commands} commands answered 503)")]
    private static partial void LogLedgerFailed(ILogger logger, string tenantId, int commands, Exception exception);

    [LoggerMessage(EventId = 5112, Level = LogLevel.Warning, Message = "Reading the freezes of tenant {TenantId} failed (they are read per key until the next read)")]
    private static partial void LogFreezeSetFailed(ILogger logger, string tenantId, Exception exception);

    [LoggerMessage(EventId = 5113, Level = LogLevel.Warning, Message = "Reading budget rows of tenant {TenantId} ahead of their staleness failed (they are read when next needed)")]
    private static partial void LogReadAheadFailed(ILogger logger, string tenantId, Exception exception);

    [LoggerMessage(EventId = 5111, Level = LogLevel.Warning, Message = "Budget storage read or write failed (answered 503)")]
    private static partial void LogStoreFailed(ILogger logger, Exception exception);
}
