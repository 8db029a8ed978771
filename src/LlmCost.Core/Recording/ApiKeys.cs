namespace LlmCost.Core.Recording;

/// <summary>The roles an API key can have.</summary>
public static class ApiKeyRoles
{
    /// <summary>Everything, any tenant (the tenant is named per request with <c>tenant_id</c>).</summary>
    public const string Admin = "admin";

    /// <summary>Post usage (and ask budgets) for its own tenant.</summary>
    public const string Ingest = "ingest";

    /// <summary>Read its own tenant, or only its own user when the key is bound to one.</summary>
    public const string Reader = "reader";

    public static bool IsKnown(string? role) => role is Admin or Ingest or Reader;
}

/// <summary>
/// A stored API key. The secret itself is never stored: only <see cref="SecretHash"/> (SHA-256 of the whole key,
/// which carries 256 random bits, so a fast hash is safe and no salt is needed).
/// </summary>
public sealed record ApiKeyRecord
{
    public required string KeyId { get; init; }
    public required string SecretHash { get; init; }
    public required string Role { get; init; }

    /// <summary>Null only for admin keys, which act on any tenant.</summary>
    public string? TenantId { get; init; }

    /// <summary>A reader bound to one user sees only that user.</summary>
    public string? UserId { get; init; }

    public string? Name { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
}

/// <summary>
/// Where API keys live (Table Storage in production). Creation and revocation take the audit line that describes
/// them and store it atomically with the change (the store is then an <see cref="Audit.IAuditOutbox"/>).
/// </summary>
public interface IApiKeyStore
{
    Task<ApiKeyRecord?> FindAsync(string keyId, CancellationToken cancellationToken = default);

    /// <summary>False when the id already exists.</summary>
    Task<bool> AddAsync(ApiKeyRecord key, Audit.AuditEntry audit, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<ApiKeyRecord>> ListAsync(string? tenantId, CancellationToken cancellationToken = default);

    /// <summary>False when there was no such key.</summary>
    Task<bool> DeleteAsync(string keyId, Audit.AuditEntry audit, CancellationToken cancellationToken = default);
}
