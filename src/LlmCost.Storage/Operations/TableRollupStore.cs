using System.Globalization;
using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Pricing;
using LlmCost.Core.Rollups;

namespace LlmCost.Storage.Operations;

/// <summary>
/// Rollups in one table. PartitionKey = <c>{tenant}|{h|d|m}|{yyyyMMddHH|yyyyMMdd|yyyyMM}</c>: one partition per
/// tenant-period, so replacing a period is one (or a few) entity-group transactions and a year of a tenant's months
/// is one PK range query. RowKey = <c>{dimension}|{key}</c>. Money is stored as a decimal string (exact).
/// Side rows: the watermark (<c>~meta</c>) and the tenant index (<c>~tenants</c>) the timers iterate.
/// </summary>
public sealed class TableRollupStore(LlmCostStorage storage) : IRollupStore
{
    private const string MetaPartition = "~meta";
    private const string TenantsPartition = "~tenants";

    private TableClient Table => storage.Table(OperationsStorage.RollupsTable);

    public async Task ReplacePeriodAsync(
        string tenantId, RollupGranularity granularity, DateTimeOffset periodStart, IReadOnlyList<RollupRow> rows,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var partition = Partition(tenantId, granularity, periodStart);
        var wanted = rows.Select(r => ToEntity(partition, r)).ToDictionary(e => e.RowKey, StringComparer.Ordinal);
        for (var attempt = 1; ; attempt++)
        {
            if (await TryReplaceAsync(partition, wanted, cancellationToken).ConfigureAwait(false))
            {
                break;
            }

            // Only an overlapping run deleting the same vanished group can get in the way; re-read and redo (the
            // values are absolute, so redoing is always safe).
            if (attempt >= 5)
            {
                throw new StorageContentionException($"rollup partition {partition} kept changing during replacement");
            }
        }

        if (granularity == RollupGranularity.Day && rows.Count > 0)
        {
            await Table.UpsertEntityAsync(new TableEntity(TenantsPartition, StorageKeys.Escape(tenantId)) { ["TenantId"] = tenantId },
                TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<bool> TryReplaceAsync(string partition, Dictionary<string, TableEntity> wanted, CancellationToken cancellationToken)
    {
        var existing = new List<string>();
        await foreach (var e in Table.QueryAsync<TableEntity>(x => x.PartitionKey == partition, select: ["RowKey"], cancellationToken: cancellationToken)
            .ConfigureAwait(false))
        {
            existing.Add(e.RowKey);
        }

        var actions = wanted.Values.Select(e => new TableTransactionAction(TableTransactionActionType.UpsertReplace, e))
            .Concat(existing.Where(k => !wanted.ContainsKey(k))
                .Select(k => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partition, k), ETag.All)))
            .ToList();
        // Upserts and deletes of absolute values: each chunk is atomic, and a crash between chunks is repaired by
        // the next run (which recomputes the same rows), so multi-chunk periods stay correct.
        foreach (var chunk in actions.Chunk(100))
        {
            try
            {
                if (!(await OptimisticConcurrency.SubmitAsync(Table, chunk, cancellationToken).ConfigureAwait(false)).Succeeded)
                {
                    return false;
                }
            }
            catch (TableTransactionFailedException ex) when (ex.Status == 404)
            {
                return false;
            }
        }

        return true;
    }

    public async Task<IReadOnlyList<RollupRow>> ReadAsync(
        string tenantId, RollupGranularity granularity, DateTimeOffset fromInclusive, DateTimeOffset toExclusive,
        string? dimension = null, CancellationToken cancellationToken = default)
    {
        var from = Partition(tenantId, granularity, RollupPeriods.StartOf(granularity, fromInclusive));
        // Periods starting before toExclusive: the partition of the period containing toExclusive is excluded unless
        // toExclusive is inside it (then that period started before toExclusive).
        var lastStart = RollupPeriods.StartOf(granularity, toExclusive);
        var to = lastStart < toExclusive ? Partition(tenantId, granularity, RollupPeriods.Next(granularity, lastStart)) : Partition(tenantId, granularity, lastStart);
        var filter = TableClient.CreateQueryFilter($"PartitionKey ge {from} and PartitionKey lt {to}");
        if (dimension is not null)
        {
            filter += " and " + TableClient.CreateQueryFilter($"Dimension eq {dimension}");
        }

        var rows = new List<RollupRow>();
        await foreach (var e in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var row = FromEntity(e);
            if (row.PeriodStart >= fromInclusive && row.PeriodStart < toExclusive)
            {
                rows.Add(row);
            }
        }

        return rows;
    }

    public async Task<DateTimeOffset?> GetWatermarkAsync(CancellationToken cancellationToken = default)
    {
        var row = await Table.GetEntityIfExistsAsync<TableEntity>(MetaPartition, "watermark", cancellationToken: cancellationToken).ConfigureAwait(false);
        return row.HasValue ? row.Value!.GetDateTimeOffset("Watermark") : null;
    }

    public Task SetWatermarkAsync(DateTimeOffset watermark, CancellationToken cancellationToken = default) =>
        Table.UpsertEntityAsync(new TableEntity(MetaPartition, "watermark") { ["Watermark"] = watermark }, TableUpdateMode.Replace, cancellationToken);

    public async Task<int> PruneAsync(string tenantId, RollupGranularity granularity, DateTimeOffset before, CancellationToken cancellationToken = default)
    {
        var from = StorageKeys.Compose(StorageKeys.Escape(tenantId), granularity switch { RollupGranularity.Hour => "h", RollupGranularity.Day => "d", _ => "m" }, string.Empty);
        var to = Partition(tenantId, granularity, RollupPeriods.StartOf(granularity, before));
        var rows = new List<TableEntity>();
        await foreach (var e in Table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey ge {from} and PartitionKey lt {to}"), select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken)
            .ConfigureAwait(false))
        {
            rows.Add(e);
        }

        foreach (var partition in rows.GroupBy(r => r.PartitionKey))
        {
            foreach (var chunk in partition.Chunk(100))
            {
                await Table.SubmitTransactionAsync(chunk.Select(r => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(r.PartitionKey, r.RowKey), ETag.All)), cancellationToken)
                    .ConfigureAwait(false);
            }
        }

        return rows.Count;
    }

    /// <summary>Every tenant that ever had a non-empty day rollup.</summary>
    public async Task<IReadOnlyList<string>> ListTenantsAsync(CancellationToken cancellationToken = default)
    {
        var tenants = new List<string>();
        await foreach (var e in Table.QueryAsync<TableEntity>(x => x.PartitionKey == TenantsPartition, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            tenants.Add(e.GetString("TenantId"));
        }

        return tenants;
    }

    internal static string Partition(string tenantId, RollupGranularity granularity, DateTimeOffset periodStart)
    {
        var utc = periodStart.ToUniversalTime();
        var (code, period) = granularity switch
        {
            RollupGranularity.Hour => ("h", utc.ToString("yyyyMMddHH", CultureInfo.InvariantCulture)),
            RollupGranularity.Day => ("d", utc.ToString("yyyyMMdd", CultureInfo.InvariantCulture)),
            RollupGranularity.Month => ("m", utc.ToString("yyyyMM", CultureInfo.InvariantCulture)),
            _ => throw new ArgumentOutOfRangeException(nameof(granularity)),
        };
        return StorageKeys.Compose(StorageKeys.Escape(tenantId), code, period);
    }

    /// <summary>The rollup rows' historic token columns; every other unit is a <c>U_{usage_key}</c> column (<see cref="Recording.UnitColumns"/>).</summary>
    private static readonly IReadOnlyDictionary<UsageUnit, string> s_legacy = new Dictionary<UsageUnit, string>
    {
        [UsageUnits.Get("input_tokens")] = "InputTokens",
        [UsageUnits.Get("output_tokens")] = "OutputTokens",
    };

    private static TableEntity ToEntity(string partition, RollupRow row)
    {
        TableEntity entity = ToBaseEntity(partition, row);
        Recording.UnitColumns.Write(entity, row.Units, s_legacy);
        // The token columns are the row's own fields (the unit totals agree with them whenever they are filled).
        entity["InputTokens"] = row.InputTokens;
        entity["OutputTokens"] = row.OutputTokens;
        if (row.ReportedCostEvents > 0)
        {
            entity["ReportedCostEvents"] = row.ReportedCostEvents;
            entity["ReportedCostUsd"] = row.ReportedCostUsd.ToString(CultureInfo.InvariantCulture);
            entity["ReportedCostDifferenceUsd"] = row.ReportedCostDifferenceUsd.ToString(CultureInfo.InvariantCulture);
            entity["ReportedCostComparedUsd"] = row.ReportedCostComparedUsd.ToString(CultureInfo.InvariantCulture);
        }

        return entity;
    }

    private static TableEntity ToBaseEntity(string partition, RollupRow row) => new(partition, StorageKeys.Compose(row.Dimension, StorageKeys.Escape(row.Key)))
    {
        ["TenantId"] = row.TenantId,
        ["Granularity"] = row.Granularity.ToString(),
        ["PeriodStart"] = row.PeriodStart,
        ["Dimension"] = row.Dimension,
        ["Key"] = row.Key,
        ["Requests"] = row.Requests,
        ["Errors"] = row.Errors,
        ["UnpricedRequests"] = row.UnpricedRequests,
        ["InputTokens"] = row.InputTokens,
        ["OutputTokens"] = row.OutputTokens,
        ["CostUsd"] = row.CostUsd.ToString(CultureInfo.InvariantCulture),
    };

    private static RollupRow FromEntity(TableEntity e) => new()
    {
        TenantId = e.GetString("TenantId"),
        Granularity = Enum.Parse<RollupGranularity>(e.GetString("Granularity")),
        PeriodStart = e.GetDateTimeOffset("PeriodStart")!.Value,
        Dimension = e.GetString("Dimension"),
        Key = e.GetString("Key"),
        Requests = e.GetInt64("Requests") ?? 0,
        Errors = e.GetInt64("Errors") ?? 0,
        UnpricedRequests = e.GetInt64("UnpricedRequests") ?? 0,
        InputTokens = e.GetInt64("InputTokens") ?? 0,
        OutputTokens = e.GetInt64("OutputTokens") ?? 0,
        CostUsd = decimal.Parse(e.GetString("CostUsd"), NumberStyles.Number, CultureInfo.InvariantCulture),
        Units = Recording.UnitColumns.Read(e, s_legacy, requestsDefault: 0),
        ReportedCostEvents = e.GetInt64("ReportedCostEvents") ?? 0,
        ReportedCostUsd = Money(e, "ReportedCostUsd"),
        ReportedCostDifferenceUsd = Money(e, "ReportedCostDifferenceUsd"),
        ReportedCostComparedUsd = Money(e, "ReportedCostComparedUsd"),
    };

    private static decimal Money(TableEntity e, string name) =>
        e.GetString(name) is { } text ? decimal.Parse(text, NumberStyles.Number, CultureInfo.InvariantCulture) : 0m;
}
