using System.Globalization;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Budgets;
using LlmCost.Core.Audit;

namespace LlmCost.Storage.Budgets;

/// <summary>
/// How the ledger's model maps to rows: reading rows into a <see cref="LedgerPartition"/> (with this instance's
/// cache), building a transaction from what a command changed, each row kind's codec, and the key rules.
/// </summary>
public sealed partial class TableBudgetStore
{
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
        var wanted = keys.Distinct(StringComparer.Ordinal).Where(key => !rows.IsFresh(key) && (fresh || !rows.Has(key))).ToList();
        if (!fresh && wanted.Exists(IsFreeze))
        {
            await EnsureFreezeSetAsync(ledger, cancellationToken).ConfigureAwait(false);
        }

        var now = _time.GetUtcNow();
        var toRead = new List<string>();
        List<string>? ahead = null;
        foreach (var key in wanted)
        {
            if (!fresh && Cached(ledger, key, now) is { } cached)
            {
                rows.Put(key, cached.Value, cached.ETag, fresh: false);
                if (now - cached.At >= _options.CacheStaleness / 2 && !IsFreeze(key))
                {
                    (ahead ??= []).Add(key);
                }

                continue;
            }

            toRead.Add(key);
        }

        if (ahead is not null)
        {
            ReadAhead(ledger, ahead);
        }

        if (toRead.Count == 0)
        {
            return;
        }

        var read = await ReadRowsAsync(ledger.TenantId, toRead, cancellationToken).ConfigureAwait(false);
        foreach (var (key, value, etag) in read)
        {
            rows.Put(key, value, etag, fresh: true);
            if (IsCacheable(key))
            {
                ledger.Cache[key] = new CachedRow(value, etag, now);
            }
        }
    }

    /// <summary>
    /// Rows only read (a budget's main row, other committers' lanes) would otherwise be read again by whichever
    /// transaction finds them past the staleness bound, adding a round trip to every command in it. Once they are
    /// half that old they are re-read off the transaction's path; the copy is replaced only if nothing newer (a
    /// write of this instance, a read of a transaction) replaced it meanwhile, and a forgotten row stays forgotten.
    /// </summary>
    private void ReadAhead(TenantLedger ledger, List<string> keys)
    {
        var mine = keys.Where(k => ledger.ReadingAhead.TryAdd(k, 0)).ToList();
        if (mine.Count == 0)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                var at = _time.GetUtcNow();
                foreach (var (key, value, etag) in await ReadRowsAsync(ledger.TenantId, mine, CancellationToken.None).ConfigureAwait(false))
                {
                    var row = new CachedRow(value, etag, at);
                    while (ledger.Cache.TryGetValue(key, out var old) && old.At < at && !ledger.Cache.TryUpdate(key, row, old))
                    {
                    }
                }
            }
            catch (Exception ex) when (ex is RequestFailedException or IOException or HttpRequestException or OperationCanceledException)
            {
                // The rows age out and the next transaction that needs them reads them itself.
                LogReadAheadFailed(_logger, ledger.TenantId, ex);
            }
            finally
            {
                foreach (var key in mine)
                {
                    ledger.ReadingAhead.TryRemove(key, out _);
                }
            }
        }, CancellationToken.None);
    }

    /// <summary>Reads rows by logical key (absent: null value): main rows with their lanes in one query, queries of at most 14 keys.</summary>
    private async Task<List<(string Key, object? Value, ETag ETag)>> ReadRowsAsync(string tenantId, List<string> keys, CancellationToken cancellationToken)
    {
        // Main rows with their lanes first, then everything else, packed into queries of at most 14 keys.
        var groups = keys.GroupBy(k => BudgetKeys.IsLane(k) ? BudgetKeys.StateOfLane(k) : k.StartsWith("st|", StringComparison.Ordinal) ? k : "~" + k, StringComparer.Ordinal)
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

        var pk = Partition(tenantId);
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

        var rows = new List<(string, object?, ETag)>(keys.Count);
        foreach (var (chunk, found) in results)
        {
            var byRowKey = found.ToDictionary(e => e.RowKey, StringComparer.Ordinal);
            foreach (var key in chunk)
            {
                rows.Add(byRowKey.TryGetValue(RowKey(key), out var entity) ? (key, FromEntity(key, entity), entity.ETag) : (key, null, default));
            }
        }

        return rows;
    }

    /// <summary>This instance's copy of a row when it is recent enough to reuse; a freeze row also from the tenant's freeze set.</summary>
    private CachedRow? Cached(TenantLedger ledger, string key, DateTimeOffset now)
    {
        if (!IsCacheable(key))
        {
            return null;
        }

        ledger.Cache.TryGetValue(key, out var cached);
        // The newer of the two views: a freeze this instance wrote after the set was read is newer than the set.
        if (IsFreeze(key) && ledger.Freezes is { Complete: true } set && (cached is null || cached.At < set.At))
        {
            cached = set.Rows.GetValueOrDefault(RowKey(key)) ?? new CachedRow(null, default, set.At);
        }

        return cached is not null && cached.At + _options.CacheStaleness > now ? cached : null;
    }

    // ---- the freeze set ----

    private static bool IsFreeze(string logicalKey) => logicalKey.StartsWith("fz|", StringComparison.Ordinal);

    /// <summary>
    /// Every authorisation checks the freezes of its tenant, team, user and key. Read per key, a tenant with more
    /// users than it authorises per staleness window would read a freeze row before nearly every transaction (a
    /// second round trip); instead one query reads all the tenant's freezes, and the set is re-read in the
    /// background once it is half as old as the staleness allows, so in the steady state no authorisation waits
    /// for it. Each freeze it answers for is at most <see cref="TableBudgetStoreOptions.CacheStaleness"/> old, as a
    /// cached row is. A tenant with more freezes than one page is read per key, as before.
    /// </summary>
    private Task EnsureFreezeSetAsync(TenantLedger ledger, CancellationToken cancellationToken)
    {
        if (_options.CacheStaleness <= TimeSpan.Zero)
        {
            return Task.CompletedTask;
        }

        var now = _time.GetUtcNow();
        var set = ledger.Freezes;
        var age = set is null ? TimeSpan.MaxValue : now - set.At;
        var retryAfter = set is { Complete: false } ? TooManyFreezesRetry : _options.CacheStaleness / 2;
        if (age < retryAfter)
        {
            return Task.CompletedTask;
        }

        Task refresh;
        lock (ledger.Lock)
        {
            refresh = ledger.FreezeRead ??= ReadFreezeSetAsync(ledger);
        }

        // Still usable: this transaction goes on with it, the next ones get the new set.
        return set is { Complete: true } && age < _options.CacheStaleness ? Task.CompletedTask : refresh.WaitAsync(cancellationToken);
    }

    /// <summary>Reads the freeze set; a failure leaves the old one (which ages out) and the keys are then read one by one.</summary>
    private async Task ReadFreezeSetAsync(TenantLedger ledger)
    {
        await Task.Yield();
        try
        {
            var at = _time.GetUtcNow();
            var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition(ledger.TenantId)} and RowKey ge {"fz|"} and RowKey lt {"fz}"}");
            var rows = new Dictionary<string, CachedRow>(StringComparer.Ordinal);
            await foreach (var entity in Table.QueryAsync<TableEntity>(filter, maxPerPage: _options.FreezeSetLimit).ConfigureAwait(false))
            {
                if (rows.Count == _options.FreezeSetLimit)
                {
                    ledger.Freezes = new FreezeSet([], at, Complete: false);
                    return;
                }

                rows[entity.RowKey] = new CachedRow(FromEntity("fz|", entity), entity.ETag, at);
            }

            ledger.Freezes = new FreezeSet(rows, at, Complete: true);
        }
        catch (Exception ex) when (ex is RequestFailedException or IOException or HttpRequestException or OperationCanceledException)
        {
            LogFreezeSetFailed(_logger, ledger.TenantId, ex);
        }
        finally
        {
            lock (ledger.Lock)
            {
                ledger.FreezeRead = null;
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
}
