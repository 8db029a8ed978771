using System.Globalization;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Audit;

namespace LlmCost.Storage.Operations;

/// <summary>
/// The audit log in table <c>{prefix}audit</c>: PartitionKey = the tenant (escaped; service-wide lines in
/// <c>~service</c>, which no escaped tenant can equal), RowKey = inverted ticks then the audit id, so a plain range
/// query reads newest first and appending the same line twice is a 409 that changes nothing.
/// </summary>
public sealed class TableAuditLog(LlmCostStorage storage) : IAuditLog
{
    private const string ServicePartition = "~service";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private TableClient Table => storage.Table(OperationsStorage.AuditTable);

    public async Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var inverted = (DateTimeOffset.MaxValue.UtcTicks - entry.At.UtcTicks).ToString("D19", CultureInfo.InvariantCulture);
        var row = new TableEntity(Partition(entry.TenantId), StorageKeys.Compose(inverted, StorageKeys.Escape(entry.AuditId)))
        {
            ["Action"] = entry.Action,
            ["Actor"] = entry.Actor,
            ["At"] = entry.At,
            ["UserId"] = entry.UserId,
            ["Json"] = JsonSerializer.Serialize(entry, Json),
        };
        try
        {
            await Table.AddEntityAsync(row, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            // Already appended (a drained outbox line after a crash): the log is append-only and lines are immutable.
        }
    }

    public async Task<IReadOnlyList<AuditEntry>> ListAsync(string tenantId, int max, CancellationToken cancellationToken = default)
    {
        var partition = Partition(tenantId);
        var list = new List<AuditEntry>();
        await foreach (var e in Table.QueryAsync<TableEntity>(x => x.PartitionKey == partition, maxPerPage: Math.Min(max, 1000), cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            list.Add(JsonSerializer.Deserialize<AuditEntry>(e.GetString("Json"), Json)!);
            if (list.Count >= max)
            {
                break;
            }
        }

        return list;
    }

    private static string Partition(string tenantId) => tenantId == AuditEntry.ServiceWide ? ServicePartition : StorageKeys.Escape(tenantId);
}
