using System.Globalization;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Audit;

namespace LlmCost.Storage;

/// <summary>
/// Audit lines waiting in the table of the change they describe: a row ("au|{ticks}|{id}", Kind "au") added in the
/// change's own transaction, so nothing changes unaudited, and moved into the one audit log by
/// <see cref="AuditTrail"/> through the store's <see cref="IAuditOutbox"/>. The API key and price policy stores keep
/// their pending lines this way; the budget store orders its own newest first (its admin view reads them).
/// </summary>
internal static class PendingAuditRows
{
    public const string Kind = "au";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The pending row of <paramref name="audit"/> in <paramref name="partition"/>, to add in the change's transaction.</summary>
    public static TableEntity Row(string partition, AuditEntry audit)
    {
        ArgumentNullException.ThrowIfNull(audit);
        return new TableEntity(partition, RowKey(audit))
        {
            ["Kind"] = Kind,
            ["AuditTenant"] = audit.TenantId,
            ["Json"] = JsonSerializer.Serialize(audit, Json),
        };
    }

    /// <summary>The audit lines of the rows <paramref name="filter"/> selects, oldest first, at most <paramref name="max"/>.</summary>
    public static async Task<IReadOnlyList<AuditEntry>> ReadAsync(TableClient table, string filter, int max, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(table);
        var entries = new List<AuditEntry>();
        await foreach (TableEntity entity in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            entries.Add(JsonSerializer.Deserialize<AuditEntry>(entity.GetString("Json"), Json)!);
            if (entries.Count >= max)
            {
                break;
            }
        }

        return entries;
    }

    /// <summary>Deletes the pending rows of lines the audit log now holds; a row already gone (drained by another reader) counts as removed.</summary>
    public static async Task RemoveAsync(TableClient table, string partition, IReadOnlyCollection<AuditEntry> entries, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(entries);
        foreach (AuditEntry entry in entries)
        {
            try
            {
                await table.DeleteEntityAsync(partition, RowKey(entry), ETag.All, cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
                // Removed either way.
            }
        }
    }

    private static string RowKey(AuditEntry audit) =>
        StorageKeys.Compose(Kind, audit.At.UtcTicks.ToString("D19", CultureInfo.InvariantCulture), StorageKeys.Escape(audit.AuditId));
}
