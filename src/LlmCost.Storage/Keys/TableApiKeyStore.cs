using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Audit;
using LlmCost.Core.Recording;

namespace LlmCost.Storage.Keys;

/// <summary>
/// API keys in table <c>{prefix}apikeys</c>: PartitionKey "key" (a handful of keys; one partition keeps listing
/// a single query), RowKey = key id. Only the SHA-256 of the key is stored. The audit line of a creation or a
/// revocation is a pending row ("au|...", Kind "au") in the same transaction, so neither happens unaudited; it is
/// moved into the audit log as an <see cref="IAuditOutbox"/>.
/// </summary>
public sealed class TableApiKeyStore(LlmCostStorage storage) : IApiKeyStore, IAuditOutbox
{
    public const string TableName = "apikeys";
    private const string Partition = "key";

    private TableClient Table => storage.Table(TableName);

    public async Task<ApiKeyRecord?> FindAsync(string keyId, CancellationToken cancellationToken = default)
    {
        if (RecordKeys.Problem(keyId) is not null)
        {
            return null;
        }

        NullableResponse<TableEntity> row = await Table
            .GetEntityIfExistsAsync<TableEntity>(Partition, keyId, cancellationToken: cancellationToken).ConfigureAwait(false);
        return row.HasValue ? FromEntity(row.Value!) : null;
    }

    public async Task<bool> AddAsync(ApiKeyRecord key, AuditEntry audit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var entity = new TableEntity(Partition, key.KeyId)
        {
            ["SecretHash"] = key.SecretHash,
            ["Role"] = key.Role,
            ["TenantId"] = key.TenantId,
            ["UserId"] = key.UserId,
            ["Name"] = key.Name,
            ["CreatedAt"] = key.CreatedAt,
        };
        WriteResult result = await OptimisticConcurrency.SubmitAsync(Table,
            [new TableTransactionAction(TableTransactionActionType.Add, entity), new TableTransactionAction(TableTransactionActionType.Add, PendingAuditRows.Row(Partition, audit))],
            cancellationToken).ConfigureAwait(false);
        return result.Succeeded;
    }

    public async Task<IReadOnlyList<ApiKeyRecord>> ListAsync(string? tenantId, CancellationToken cancellationToken = default)
    {
        var keys = new List<ApiKeyRecord>();
        string filter = tenantId is null
            ? TableClient.CreateQueryFilter($"PartitionKey eq {Partition}")
            : TableClient.CreateQueryFilter($"PartitionKey eq {Partition} and TenantId eq {tenantId}");
        await foreach (TableEntity entity in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (entity.GetString("Kind") != PendingAuditRows.Kind)
            {
                keys.Add(FromEntity(entity));
            }
        }

        return keys;
    }

    public async Task<bool> DeleteAsync(string keyId, AuditEntry audit, CancellationToken cancellationToken = default)
    {
        if (RecordKeys.Problem(keyId) is not null)
        {
            return false;
        }

        try
        {
            await Table.SubmitTransactionAsync(
                [new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(Partition, keyId), ETag.All),
                 new TableTransactionAction(TableTransactionActionType.Add, PendingAuditRows.Row(Partition, audit))],
                cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TableTransactionFailedException ex) when (ex.Status == 404)
        {
            return false;
        }
    }

    public Task<IReadOnlyList<AuditEntry>> PendingAsync(string tenantId, int max, CancellationToken cancellationToken = default) =>
        PendingAuditRows.ReadAsync(Table,
            TableClient.CreateQueryFilter($"PartitionKey eq {Partition} and Kind eq {PendingAuditRows.Kind} and AuditTenant eq {tenantId}"), max, cancellationToken);

    public Task RemoveAsync(string tenantId, IReadOnlyCollection<AuditEntry> entries, CancellationToken cancellationToken = default) =>
        PendingAuditRows.RemoveAsync(Table, Partition, entries, cancellationToken);

    private static ApiKeyRecord FromEntity(TableEntity entity) => new()
    {
        KeyId = entity.RowKey,
        SecretHash = entity.GetString("SecretHash"),
        Role = entity.GetString("Role"),
        TenantId = entity.GetString("TenantId"),
        UserId = entity.GetString("UserId"),
        Name = entity.GetString("Name"),
        CreatedAt = entity.GetDateTimeOffset("CreatedAt") ?? DateTimeOffset.MinValue,
    };
}
