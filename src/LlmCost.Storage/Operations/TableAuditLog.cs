using System.Globalization;
using System.Text.Json;
using Azure.Data.Tables;
using LlmCost.Core.Retention;

namespace LlmCost.Storage.Operations;

/// <summary>Append-only audit entries: PartitionKey = subject (e.g. the user id), RowKey = time (sortable) + random suffix.</summary>
public sealed class TableAuditLog(LlmCostStorage storage) : IAuditLog
{
    private TableClient Table => storage.Table(OperationsStorage.AuditTable);

    public Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var rowKey = entry.At.UtcTicks.ToString("D19", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..8];
        return Table.AddEntityAsync(new TableEntity(StorageKeys.Escape(entry.SubjectId), rowKey)
        {
            ["Action"] = entry.Action,
            ["SubjectId"] = entry.SubjectId,
            ["Actor"] = entry.Actor,
            ["At"] = entry.At,
            ["Details"] = JsonSerializer.Serialize(entry.Details),
        }, cancellationToken);
    }

    public async Task<IReadOnlyList<AuditEntry>> ListAsync(string subjectId, CancellationToken cancellationToken = default)
    {
        var partition = StorageKeys.Escape(subjectId);
        var list = new List<AuditEntry>();
        await foreach (var e in Table.QueryAsync<TableEntity>(x => x.PartitionKey == partition, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            list.Add(new AuditEntry(e.GetString("Action"), e.GetString("SubjectId"), e.GetString("Actor"), e.GetDateTimeOffset("At")!.Value,
                JsonSerializer.Deserialize<Dictionary<string, string>>(e.GetString("Details") ?? "{}") ?? []));
        }

        return list;
    }
}
