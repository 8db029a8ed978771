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
