using System.Globalization;
using Azure.Data.Tables;
using LlmCost.Core.Audit;
using LlmCost.Core.Pricing;

namespace LlmCost.Storage.Pricing;

/// <summary>
/// Tenant price policies in table <c>{prefix}pricingpolicies</c>: PartitionKey = tenant id, RowKey "v|{version:D10}"
/// (Kind "v"), one row per version, only ever added (an Add of an existing version is the conflict a concurrent
/// writer sees). The version's audit line is a pending row ("au|...", Kind "au") in the same transaction, moved into
/// the audit log as an <see cref="IAuditOutbox"/>.
/// </summary>
public sealed class TableTenantPolicyStore(LlmCostStorage storage) : ITenantPolicyStore, IAuditOutbox
{
    public const string TableName = "pricingpolicies";
    private const string VersionKind = "v";

    private TableClient Table => storage.Table(TableName);

    public async Task<TenantPolicyHistory> ReadAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(tenantId);
        var versions = new List<TenantPolicyVersion>();
        string filter = TableClient.CreateQueryFilter($"PartitionKey eq {tenantId} and Kind eq {VersionKind}");
        await foreach (TableEntity row in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            versions.Add(FromEntity(row));
        }

        return new TenantPolicyHistory(tenantId, versions.OrderBy(v => v.Version).ToList());
    }

    public async Task<IReadOnlyList<TenantPolicyHistory>> ReadAllAsync(CancellationToken cancellationToken = default)
    {
        var versions = new List<TenantPolicyVersion>();
        string filter = TableClient.CreateQueryFilter($"Kind eq {VersionKind}");
        await foreach (TableEntity row in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            versions.Add(FromEntity(row));
        }

        return versions.GroupBy(v => v.TenantId, StringComparer.Ordinal)
            .Select(g => new TenantPolicyHistory(g.Key, g.OrderBy(v => v.Version).ToList()))
            .ToList();
    }

    public async Task<bool> AppendAsync(TenantPolicyVersion version, AuditEntry audit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(version);
        ArgumentNullException.ThrowIfNull(audit);
        StorageKeys.EnsureKey(version.TenantId, nameof(version));
        var entity = new TableEntity(version.TenantId, VersionRowKey(version.Version))
        {
            ["Kind"] = VersionKind,
            ["TenantId"] = version.TenantId,
            ["Version"] = version.Version,
            ["EffectiveFrom"] = version.EffectiveFrom,
            ["CreatedAt"] = version.CreatedAt,
            ["Actor"] = version.Actor,
            ["Deleted"] = version.Deleted,
            ["Terms"] = version.TermsJson,
        };
        WriteResult result = await OptimisticConcurrency.SubmitAsync(Table,
            [new TableTransactionAction(TableTransactionActionType.Add, entity), new TableTransactionAction(TableTransactionActionType.Add, PendingAuditRows.Row(version.TenantId, audit))],
            cancellationToken).ConfigureAwait(false);
        return result.Succeeded;
    }

    public Task<IReadOnlyList<AuditEntry>> PendingAsync(string tenantId, int max, CancellationToken cancellationToken = default) =>
        tenantId == AuditEntry.ServiceWide
            ? Task.FromResult<IReadOnlyList<AuditEntry>>([])
            : PendingAuditRows.ReadAsync(Table, TableClient.CreateQueryFilter($"PartitionKey eq {tenantId} and Kind eq {PendingAuditRows.Kind}"), max, cancellationToken);

    public Task RemoveAsync(string tenantId, IReadOnlyCollection<AuditEntry> entries, CancellationToken cancellationToken = default) =>
        PendingAuditRows.RemoveAsync(Table, tenantId, entries, cancellationToken);

    private static string VersionRowKey(int version) => $"v|{version.ToString("D10", CultureInfo.InvariantCulture)}";

    private static TenantPolicyVersion FromEntity(TableEntity row) => new()
    {
        TenantId = row.GetString("TenantId") ?? row.PartitionKey,
        Version = row.GetInt32("Version") ?? 0,
        EffectiveFrom = row.GetDateTimeOffset("EffectiveFrom") ?? DateTimeOffset.MinValue,
        CreatedAt = row.GetDateTimeOffset("CreatedAt") ?? DateTimeOffset.MinValue,
        Actor = row.GetString("Actor") ?? "unknown",
        Terms = row.GetBoolean("Deleted") == true ? null : TenantPolicyVersion.ParseTerms(row.GetString("Terms")),
    };
}
