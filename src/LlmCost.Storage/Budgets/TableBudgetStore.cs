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

namespace LlmCost.Storage.Budgets;

/// <summary>
/// The budget ports on Table Storage. One table (<c>{prefix}budgets</c>), one partition per tenant holding every
/// row that must change together: definitions (df|), audit lines (au|), period states (st|), reservations (rs|),
/// freezes (fz|), applied-event markers (ev|) and recorded alerts (al|). A ledger command batch is one
/// entity-group transaction whose updates carry the ETags read, so concurrent writers on any number of
/// instances serialise: one wins, the others re-read and re-apply (bounded, jittered, via
/// <see cref="OptimisticConcurrency"/>).
/// </summary>
/// <remarks>
/// Group commit: commands for the same tenant that arrive while a transaction is in flight are applied together
/// in the next one, so a burst of N authorisations costs about N/50 transactions on this instance instead of N
/// conflicting writes; only instances compete with each other. One tenant partition bounds throughput at roughly
/// one transaction per storage round trip per instance, which is what the budget semantics need (every admitted
/// request must see every other one) and far above what one tenant's users send.
/// </remarks>
public sealed class TableBudgetStore(LlmCostStorage storage, TimeProvider time, IBudgetSpendForecaster forecaster)
    : IBudgetRepository, IBudgetLedger, IPendingAlertSource
{
    public const string TableName = "budgets";

    /// <summary>Table Storage rejects a filter with more than 15 discrete comparisons.</summary>
    private const int KeysPerQuery = 14;

    private const int MaxBatchRows = 80;
    private const int MaxBatchCommands = 60;

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
    };

    private readonly ConcurrentDictionary<string, CommandQueue> _queues = new(StringComparer.Ordinal);

    private TableClient Table => storage.Table(TableName);

    // ---- definitions and audit ----

    public async Task<BudgetDefinition?> GetAsync(string budgetId, CancellationToken cancellationToken = default)
    {
        if (!BudgetValidator.TryGetTenant(budgetId, out var tenantId))
        {
            return null;
        }

        var row = await Table.GetEntityIfExistsAsync<TableEntity>(Partition(tenantId), RowKey(DefinitionKey(budgetId)), cancellationToken: cancellationToken).ConfigureAwait(false);
        return row.HasValue ? JsonSerializer.Deserialize<BudgetDefinition>(row.Value!.GetString("Json"), Json) : null;
    }

    public async Task<IReadOnlyList<BudgetDefinition>> ListAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var budgets = new List<BudgetDefinition>();
        await foreach (var entity in QueryPrefixAsync(tenantId, "df|", cancellationToken).ConfigureAwait(false))
        {
            budgets.Add(JsonSerializer.Deserialize<BudgetDefinition>(entity.GetString("Json"), Json)!);
        }

        return budgets;
    }

    public async Task<bool> SaveAsync(BudgetDefinition budget, AuditEntry audit, bool create, CancellationToken cancellationToken = default)
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
        return await SubmitOrMissingAsync([write, new TableTransactionAction(TableTransactionActionType.Add, AuditEntity(audit))], cancellationToken).ConfigureAwait(false);
    }

    public Task<bool> DeleteAsync(BudgetDefinition budget, AuditEntry audit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(budget);
        ArgumentNullException.ThrowIfNull(audit);
        var entity = new TableEntity(Partition(budget.TenantId), RowKey(DefinitionKey(budget.BudgetId)));
        return SubmitOrMissingAsync(
            [new TableTransactionAction(TableTransactionActionType.Delete, entity, ETag.All), new TableTransactionAction(TableTransactionActionType.Add, AuditEntity(audit))],
            cancellationToken);
    }

    public async Task<IReadOnlyList<AuditEntry>> ListAuditAsync(string tenantId, int max, CancellationToken cancellationToken = default)
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
    }

    // ---- ledger ----

    public Task ExecuteAsync(LedgerCommand command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        var queue = _queues.GetOrAdd(command.TenantId, _ => new CommandQueue());
        var pending = new PendingCommand(command, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        bool start;
        lock (queue.Lock)
        {
            queue.Items.Enqueue(pending);
            start = !queue.Draining;
            queue.Draining = true;
        }

        if (start)
        {
            _ = Task.Run(() => DrainAsync(command.TenantId, queue), CancellationToken.None);
        }

        return pending.Done.Task.WaitAsync(cancellationToken);
    }

    public async Task<LedgerPartition> ReadAsync(string tenantId, IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var partition = new LedgerPartition(tenantId);
        await LoadAsync(partition, new Dictionary<string, ETag>(StringComparer.Ordinal), keys, cancellationToken).ConfigureAwait(false);
        return partition;
    }

    public async Task<IReadOnlyList<ReservationRecord>> ListExpiredReservationsAsync(DateTimeOffset now, int max, CancellationToken cancellationToken = default)
    {
        var filter = TableClient.CreateQueryFilter($"Kind eq {"rs"} and Status eq {nameof(ReservationStatus.Active)} and ExpiresAt le {now.UtcDateTime}");
        var found = new List<ReservationRecord>();
        await foreach (var entity in Table.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(max, 1000), cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            found.Add(JsonSerializer.Deserialize<ReservationRecord>(entity.GetString("Json"), Json)!);
            if (found.Count >= max)
            {
                break;
            }
        }

        return found;
    }

    public async Task<IReadOnlyList<FreezeRecord>> ListFreezesAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var freezes = new List<FreezeRecord>();
        await foreach (var entity in QueryPrefixAsync(tenantId, "fz|", cancellationToken).ConfigureAwait(false))
        {
            freezes.Add(JsonSerializer.Deserialize<FreezeRecord>(entity.GetString("Json"), Json)!);
        }

        return freezes;
    }

    // ---- pending alerts ----

    public async Task<IReadOnlyList<Alert>> ListPendingAsync(string? tenantId, int max, CancellationToken cancellationToken = default)
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
    }

    public async Task MarkDispatchedAsync(IReadOnlyList<Alert> alerts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(alerts);
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
    }

    // ---- group commit ----

    private async Task DrainAsync(string tenantId, CommandQueue queue)
    {
        while (true)
        {
            var batch = new List<PendingCommand>();
            lock (queue.Lock)
            {
                var rows = 0;
                while (queue.Items.Count > 0 && batch.Count < MaxBatchCommands
                    && (batch.Count == 0 || rows + queue.Items.Peek().Command.MaxNewRows <= MaxBatchRows))
                {
                    var next = queue.Items.Dequeue();
                    rows += next.Command.MaxNewRows;
                    batch.Add(next);
                }

                if (batch.Count == 0)
                {
                    queue.Draining = false;
                    return;
                }
            }

            await RunBatchAsync(tenantId, batch).ConfigureAwait(false);
        }
    }

    private async Task RunBatchAsync(string tenantId, List<PendingCommand> batch)
    {
        try
        {
            var fits = await OptimisticConcurrency.RetryAsync(
                (_, ct) => AttemptAsync(tenantId, batch.Select(p => p.Command).ToList(), ct),
                maxAttempts: 20,
                cancellationToken: CancellationToken.None).ConfigureAwait(false);
            if (!fits)
            {
                // The batch produced more rows than one transaction holds: run its commands one by one.
                foreach (var pending in batch)
                {
                    await RunBatchAsync(tenantId, [pending]).ConfigureAwait(false);
                }

                return;
            }

            foreach (var pending in batch)
            {
                pending.Done.TrySetResult();
            }
        }
        catch (Exception ex)
        {
            foreach (var pending in batch)
            {
                pending.Done.TrySetException(ex);
            }
        }
    }

    /// <summary>One read–apply–write attempt. (done, fits): done false = lost a race, retry.</summary>
    private async Task<(bool Done, bool Fits)> AttemptAsync(string tenantId, List<LedgerCommand> commands, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var partition = new LedgerPartition(tenantId);
        var etags = new Dictionary<string, ETag>(StringComparer.Ordinal);
        for (var round = 0; round < 3; round++)
        {
            var missing = commands.SelectMany(c => c.RequiredKeys(partition, now)).Where(k => !partition.Loaded.Contains(k)).Distinct(StringComparer.Ordinal).ToList();
            if (missing.Count == 0)
            {
                break;
            }

            await LoadAsync(partition, etags, missing, cancellationToken).ConfigureAwait(false);
        }

        var context = new LedgerContext(now, forecaster);
        foreach (var command in commands)
        {
            command.Apply(partition, context);
        }

        var actions = BuildActions(partition, etags);
        if (actions.Count == 0)
        {
            return (true, true);
        }

        if (actions.Count > 100)
        {
            if (commands.Count == 1)
            {
                throw new InvalidOperationException($"one budget command needs {actions.Count} rows, more than a transaction holds");
            }

            return (true, false);
        }

        var result = await OptimisticConcurrency.SubmitAsync(Table, actions, cancellationToken).ConfigureAwait(false);
        return (result.Succeeded, true);
    }

    private async Task LoadAsync(LedgerPartition partition, Dictionary<string, ETag> etags, IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        var byRowKey = keys.Distinct(StringComparer.Ordinal).ToDictionary(RowKey, k => k, StringComparer.Ordinal);
        foreach (var key in byRowKey.Values)
        {
            partition.Loaded.Add(key);
        }

        var pk = Partition(partition.TenantId);
        var queries = byRowKey.Keys.Chunk(KeysPerQuery).Select(async chunk =>
        {
            var filter = new StringBuilder($"PartitionKey eq '{Quote(pk)}' and (");
            filter.AppendJoin(" or ", chunk.Select(rk => $"RowKey eq '{Quote(rk)}'")).Append(')');
            var rows = new List<TableEntity>();
            await foreach (var entity in Table.QueryAsync<TableEntity>(filter.ToString(), cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                rows.Add(entity);
            }

            return rows;
        }).ToList();

        foreach (var rows in await Task.WhenAll(queries).ConfigureAwait(false))
        {
            foreach (var entity in rows)
            {
                var key = byRowKey[entity.RowKey];
                etags[key] = entity.ETag;
                switch (entity.GetString("Kind"))
                {
                    case "st":
                        partition.States[key] = StateFromEntity(entity);
                        break;
                    case "rs":
                        partition.Reservations[key] = JsonSerializer.Deserialize<ReservationRecord>(entity.GetString("Json"), Json)!;
                        break;
                    case "fz":
                        partition.Freezes[key] = JsonSerializer.Deserialize<FreezeRecord>(entity.GetString("Json"), Json)!;
                        break;
                    case "ev":
                        partition.AppliedEvents.Add(key);
                        break;
                    default:
                        break;
                }
            }
        }
    }

    private List<TableTransactionAction> BuildActions(LedgerPartition partition, Dictionary<string, ETag> etags)
    {
        var pk = Partition(partition.TenantId);
        var actions = new List<TableTransactionAction>();
        void Write(string key, TableEntity entity)
        {
            entity.PartitionKey = pk;
            entity.RowKey = RowKey(key);
            entity["Key"] = key;
            actions.Add(etags.TryGetValue(key, out var etag)
                ? new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, etag)
                : new TableTransactionAction(TableTransactionActionType.Add, entity));
        }

        foreach (var key in partition.Changed.Order(StringComparer.Ordinal))
        {
            if (partition.States.TryGetValue(key, out var state))
            {
                Write(key, StateEntity(state));
            }
            else if (partition.Reservations.TryGetValue(key, out var reservation))
            {
                Write(key, new TableEntity
                {
                    ["Kind"] = "rs",
                    ["Status"] = reservation.Status.ToString(),
                    ["ExpiresAt"] = reservation.ExpiresAt,
                    ["Json"] = JsonSerializer.Serialize(reservation, Json),
                });
            }
            else if (partition.Freezes.TryGetValue(key, out var freeze))
            {
                Write(key, new TableEntity { ["Kind"] = "fz", ["Json"] = JsonSerializer.Serialize(freeze, Json) });
            }
            else if (etags.TryGetValue(key, out var etag))
            {
                // A lifted freeze: delete the row it was read from (and only that version of it).
                actions.Add(new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(pk, RowKey(key)), etag));
            }
        }

        foreach (var key in partition.NewEventMarkers)
        {
            Write(key, new TableEntity { ["Kind"] = "ev" });
        }

        foreach (var (key, alert) in partition.NewAlerts)
        {
            Write(key, new TableEntity
            {
                ["Kind"] = "al",
                ["Dispatched"] = false,
                ["CreatedAt"] = alert.CreatedAt,
                ["Sequence"] = (long)actions.Count,
                ["Json"] = JsonSerializer.Serialize(alert, Json),
            });
        }

        foreach (var audit in partition.NewAuditEntries)
        {
            var entity = AuditEntity(audit);
            actions.Add(new TableTransactionAction(TableTransactionActionType.Add, entity));
        }

        return actions;
    }

    // ---- rows ----

    private static TableEntity StateEntity(BudgetPeriodState state) => new()
    {
        ["Kind"] = "st",
        ["BudgetId"] = state.BudgetId,
        ["Subject"] = state.Subject,
        ["PeriodStart"] = state.Window.Start,
        ["PeriodEnd"] = state.Window.End,
        // Decimals as invariant strings: a double would not be exact.
        ["SpentUsd"] = state.SpentUsd.ToString(CultureInfo.InvariantCulture),
        ["SpentTokens"] = state.SpentTokens,
        ["UnpricedEvents"] = state.UnpricedEvents,
        ["EventCount"] = state.EventCount,
        ["HeldCount"] = state.Held.Count,
        ["Held"] = JsonSerializer.Serialize(state.Held.Values.OrderBy(h => h.ReservationId, StringComparer.Ordinal), Json),
        ["Fired"] = JsonSerializer.Serialize(state.FiredAlerts.Order(StringComparer.Ordinal), Json),
        ["BreakerWindowStart"] = state.BreakerWindowStart,
        ["BreakerWindowSpentUsd"] = state.BreakerWindowSpentUsd.ToString(CultureInfo.InvariantCulture),
        ["TrippedUntil"] = state.TrippedUntil,
    };

    private static BudgetPeriodState StateFromEntity(TableEntity entity) => BudgetPeriodState.Restore(
        entity.GetString("BudgetId"),
        entity.GetString("Subject"),
        new PeriodWindow(entity.GetDateTimeOffset("PeriodStart")!.Value, entity.GetDateTimeOffset("PeriodEnd")!.Value),
        decimal.Parse(entity.GetString("SpentUsd"), CultureInfo.InvariantCulture),
        entity.GetInt64("SpentTokens") ?? 0,
        entity.GetInt64("UnpricedEvents") ?? 0,
        entity.GetInt64("EventCount") ?? 0,
        JsonSerializer.Deserialize<List<HeldReservation>>(entity.GetString("Held"), Json) ?? [],
        JsonSerializer.Deserialize<List<string>>(entity.GetString("Fired"), Json) ?? [],
        entity.GetDateTimeOffset("BreakerWindowStart"),
        decimal.Parse(entity.GetString("BreakerWindowSpentUsd") ?? "0", CultureInfo.InvariantCulture),
        entity.GetDateTimeOffset("TrippedUntil"));

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

    private sealed class CommandQueue
    {
        public Lock Lock { get; } = new();
        public Queue<PendingCommand> Items { get; } = new();
        public bool Draining { get; set; }
    }

    private sealed record PendingCommand(LedgerCommand Command, TaskCompletionSource Done);
}
