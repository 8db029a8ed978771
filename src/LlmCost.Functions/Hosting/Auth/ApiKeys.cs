using System.Security.Cryptography;
using System.Text;
using LlmCost.Core.Recording;
using Microsoft.Extensions.Caching.Memory;

namespace LlmCost.Functions.Hosting.Auth;

/// <summary>Settings under <c>LlmCost</c> for authentication.</summary>
public sealed class LlmCostAuthOptions
{
    /// <summary>The local/bootstrap admin key (<c>LLMCOST_ADMIN_KEY</c> or <c>LlmCost:AdminKey</c>); empty = none.</summary>
    public string? AdminKey { get; set; }

    /// <summary>How long a verified stored key is trusted before it is re-read (a deleted key dies within this on other instances).</summary>
    public TimeSpan KeyCacheDuration { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>An authenticated key's identity.</summary>
public sealed record ApiKeyIdentity(string KeyId, string Role, string? TenantId, string? UserId);

/// <summary>
/// Issues and verifies API keys. A key looks like <c>llmc_{keyId}_{secret}</c>: the id locates the stored row
/// (one point read, then cached), the SHA-256 of the whole key is compared in constant time. The configured
/// admin key is compared the same way and never stored.
/// </summary>
public sealed class ApiKeyService(IApiKeyStore store, IMemoryCache cache, TimeProvider time, LlmCostAuthOptions options)
{
    public const string KeyPrefix = "llmc_";
    public const string AdminKeyId = "config-admin";

    private readonly byte[]? _adminHash = string.IsNullOrEmpty(options.AdminKey) ? null : Hash(options.AdminKey);

    /// <summary>Creates and stores a new key; the plain key is returned once and never again.</summary>
    public async Task<(ApiKeyRecord Record, string PlainKey)> CreateAsync(
        string role, string? tenantId, string? userId, string? name, CancellationToken cancellationToken = default)
    {
        string keyId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        string secret = Base64Url(RandomNumberGenerator.GetBytes(32));
        string plain = $"{KeyPrefix}{keyId}_{secret}";
        var record = new ApiKeyRecord
        {
            KeyId = keyId,
            SecretHash = Convert.ToHexStringLower(Hash(plain)),
            Role = role,
            TenantId = tenantId,
            UserId = userId,
            Name = name,
            CreatedAt = time.GetUtcNow(),
        };
        if (!await store.AddAsync(record, cancellationToken).ConfigureAwait(false))
        {
            // 64 random bits colliding is a bug-level event; fail loudly rather than overwrite a key.
            throw new InvalidOperationException("generated key id already exists");
        }

        return (record, plain);
    }

    /// <summary>The identity of a presented key, or null when it is unknown, revoked or wrong.</summary>
    public async Task<ApiKeyIdentity?> VerifyAsync(string presented, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(presented) || presented.Length > 256)
        {
            return null;
        }

        byte[] hash = Hash(presented);
        if (_adminHash is not null && CryptographicOperations.FixedTimeEquals(hash, _adminHash))
        {
            return new ApiKeyIdentity(AdminKeyId, ApiKeyRoles.Admin, null, null);
        }

        if (!presented.StartsWith(KeyPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        int separator = presented.IndexOf('_', KeyPrefix.Length);
        if (separator <= KeyPrefix.Length)
        {
            return null;
        }

        string keyId = presented[KeyPrefix.Length..separator];
        ApiKeyRecord? record = await cache.GetOrCreateAsync("apikey:" + keyId, async entry =>
        {
            entry.AbsoluteExpirationRelativeToNow = options.KeyCacheDuration;
            return await store.FindAsync(keyId, cancellationToken).ConfigureAwait(false);
        }).ConfigureAwait(false);
        if (record is null)
        {
            cache.Remove("apikey:" + keyId);
            return null;
        }

        byte[] stored = Convert.FromHexString(record.SecretHash);
        return CryptographicOperations.FixedTimeEquals(hash, stored)
            ? new ApiKeyIdentity(record.KeyId, record.Role, record.TenantId, record.UserId)
            : null;
    }

    public async Task<bool> DeleteAsync(string keyId, CancellationToken cancellationToken = default)
    {
        cache.Remove("apikey:" + keyId);
        return await store.DeleteAsync(keyId, cancellationToken).ConfigureAwait(false);
    }

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '.');
}
