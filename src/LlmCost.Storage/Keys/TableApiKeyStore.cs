using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Recording;

namespace LlmCost.Storage.Keys;

/// <summary>
/// API keys in table <c>{prefix}apikeys</c>: PartitionKey "key" (a handful of keys; one partition keeps listing
/// a single query), RowKey = key id. Only the SHA-256 of the key is stored.
/// </summary>
public sealed class TableApiKeyStore(LlmCostStorage storage) : IApiKeyStore
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

    public async Task<bool> AddAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
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
        WriteResult result = await OptimisticConcurrency.WriteAsync(Table, entity, default, cancellationToken).ConfigureAwait(false);
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
            keys.Add(FromEntity(entity));
        }

        return keys;
    }

    public async Task<bool> DeleteAsync(string keyId, CancellationToken cancellationToken = default)
    {
        if (RecordKeys.Problem(keyId) is not null)
        {
            return false;
        }

        try
        {
            await Table.DeleteEntityAsync(Partition, keyId, ETag.All, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return false;
        }
    }

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
