using System.Text.Json.Nodes;
using LlmCost.Core.Recording;
using LlmCost.Core.Retention;

namespace LlmCost.Functions.Hosting.Auth;

/// <summary>GDPR: reader keys bound to the user are listed in an export (never their secret) and revoked by an erasure.</summary>
internal sealed class ApiKeyUserData(IApiKeyStore store, ApiKeyService keys) : IUserDataHolder
{
    public string Name => "api_keys";

    public async Task<JsonNode?> ExportAsync(string tenantId, string userId, CancellationToken cancellationToken = default)
    {
        var list = new JsonArray();
        foreach (var key in await BoundAsync(tenantId, userId, cancellationToken))
        {
            list.Add(new JsonObject
            {
                ["key_id"] = key.KeyId,
                ["role"] = key.Role,
                ["name"] = key.Name,
                ["created_at"] = key.CreatedAt,
            });
        }

        return list;
    }

    public async Task<int> EraseAsync(string tenantId, string userId, CancellationToken cancellationToken = default)
    {
        var revoked = 0;
        foreach (var key in await BoundAsync(tenantId, userId, cancellationToken))
        {
            revoked += await keys.DeleteAsync(key.KeyId, "gdpr", cancellationToken) ? 1 : 0;
        }

        return revoked;
    }

    private async Task<List<ApiKeyRecord>> BoundAsync(string tenantId, string userId, CancellationToken cancellationToken) =>
        [.. (await store.ListAsync(tenantId, cancellationToken)).Where(k => k.UserId == userId)];
}
