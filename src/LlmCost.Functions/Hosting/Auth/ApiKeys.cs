using System.Security.Cryptography;
using System.Text;
using LlmCost.Core.Audit;
using LlmCost.Core.Recording;

namespace LlmCost.Functions.Hosting.Auth;

/// <summary>Settings under <c>LlmCost</c> for authentication.</summary>
public sealed class LlmCostAuthOptions
{
    /// <summary>The local/bootstrap admin key (<c>LLMCOST_ADMIN_KEY</c> or <c>LlmCost:AdminKey</c>); empty = none.</summary>
    public string? AdminKey { get; set; }

    /// <summary>
    /// How often an instance re-reads the stored keys. A key created or revoked on another instance takes effect here
    /// within this time; on the instance that created or revoked it, at once.
    /// </summary>
    public TimeSpan KeyCacheDuration { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>An authenticated key's identity.</summary>
public sealed record ApiKeyIdentity(string KeyId, string Role, string? TenantId, string? UserId);

/// <summary>
/// Issues and verifies API keys. A key looks like <c>llmc_{keyId}_{secret}</c>; the SHA-256 of the whole key is
/// compared in constant time with the stored hash. The configured admin key is compared the same way and never stored.
/// </summary>
/// <remarks>
/// Every instance holds the whole key list (one small partition) in memory and re-reads it at most every
/// <see cref="LlmCostAuthOptions.KeyCacheDuration"/>, by one read shared by every request that finds it stale. So a
/// guessed key id costs no storage read at all, and an unknown id does exactly the work of a known one with a wrong
/// secret (hash, one dictionary lookup, one fixed-time comparison against a stored or a dummy hash): whether an id
/// exists is not observable by timing. Revocation wins at once on the revoking instance: the id is tombstoned
/// before the row is deleted, and a re-read that started before the delete cannot bring it back.
/// </remarks>
public sealed class ApiKeyService(IApiKeyStore store, TimeProvider time, LlmCostAuthOptions options)
{
    public const string KeyPrefix = "llmc_";
    public const string AdminKeyId = "config-admin";

    /// <summary>A re-read that started this long ago is surely over: tombstones older than this are dropped.</summary>
    private static readonly TimeSpan TombstoneLifetime = TimeSpan.FromMinutes(10);

    /// <summary>Compared against when the id is unknown, so both paths do the same work.</summary>
    private static readonly byte[] DummyHash = SHA256.HashData("llmcost-no-such-key"u8);

    private readonly byte[]? _adminHash = string.IsNullOrEmpty(options.AdminKey) ? null : Hash(options.AdminKey);
    private readonly Lock _lock = new();
    private readonly Dictionary<string, DateTimeOffset> _tombstones = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (Known Key, DateTimeOffset At)> _createdHere = new(StringComparer.Ordinal);

    // Cache ages are operational time (how stale this instance's copy is), not business time: a test's frozen clock
    // must not freeze the refresh.
    private readonly TimeProvider _clock = TimeProvider.System;
    private Dictionary<string, Known> _keys = new(StringComparer.Ordinal);
    private DateTimeOffset _loadedAt = DateTimeOffset.MinValue;
    private Task? _refresh;

    /// <summary>Creates and stores a new key; the plain key is returned once and never again.</summary>
    public async Task<(ApiKeyRecord Record, string PlainKey)> CreateAsync(
        string role, string? tenantId, string? userId, string? name, string actor, CancellationToken cancellationToken = default)
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
        var audit = AuditEntry.Create(tenantId ?? AuditEntry.ServiceWide, actor, "key.create", "key", keyId, record.CreatedAt,
            Describe(record), userId);
        if (!await store.AddAsync(record, audit, cancellationToken).ConfigureAwait(false))
        {
            // 64 random bits colliding is a bug-level event; fail loudly rather than overwrite a key.
            throw new InvalidOperationException("generated key id already exists");
        }

        lock (_lock)
        {
            var known = Known.From(record);
            _createdHere[keyId] = (known, _clock.GetUtcNow());
            _keys = new Dictionary<string, Known>(_keys, StringComparer.Ordinal) { [keyId] = known };
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
        string keyId = separator > KeyPrefix.Length ? presented[KeyPrefix.Length..separator] : string.Empty;
        Dictionary<string, Known> keys = await CurrentAsync(cancellationToken).ConfigureAwait(false);
        Known? known = keys.GetValueOrDefault(keyId);
        bool match = CryptographicOperations.FixedTimeEquals(hash, known?.Hash ?? DummyHash);
        return match && known is not null ? known.Identity : null;
    }

    /// <summary>
    /// Revokes a key: at once on this instance, within <see cref="LlmCostAuthOptions.KeyCacheDuration"/> on others.
    /// False when there is no such key.
    /// </summary>
    public async Task<bool> DeleteAsync(string keyId, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keyId);
        ApiKeyRecord? record = await store.FindAsync(keyId, cancellationToken).ConfigureAwait(false);
        if (record is null)
        {
            return false;
        }

        lock (_lock)
        {
            // Tombstone first: a re-read already in flight (it may have read the row) must not resurrect the key.
            _tombstones[keyId] = _clock.GetUtcNow();
            _createdHere.Remove(keyId);
            if (_keys.ContainsKey(keyId))
            {
                var keys = new Dictionary<string, Known>(_keys, StringComparer.Ordinal);
                keys.Remove(keyId);
                _keys = keys;
            }
        }

        var audit = AuditEntry.Create(record.TenantId ?? AuditEntry.ServiceWide, actor, "key.revoke", "key", keyId, time.GetUtcNow(),
            Describe(record), record.UserId);
        return await store.DeleteAsync(keyId, audit, cancellationToken).ConfigureAwait(false);
    }

    private static Dictionary<string, string> Describe(ApiKeyRecord record)
    {
        var details = new Dictionary<string, string>(StringComparer.Ordinal) { ["role"] = record.Role };
        if (record.TenantId is not null)
        {
            details["tenant_id"] = record.TenantId;
        }

        if (record.UserId is not null)
        {
            details["user_id"] = record.UserId;
        }

        if (record.Name is not null)
        {
            details["name"] = record.Name;
        }

        return details;
    }

    /// <summary>The key list, re-read when stale by one shared read (which a caller's cancellation does not abort).</summary>
    private async Task<Dictionary<string, Known>> CurrentAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource? mine = null;
        Task refresh;
        lock (_lock)
        {
            if (_clock.GetUtcNow() - _loadedAt < options.KeyCacheDuration)
            {
                return _keys;
            }

            if (_refresh is null)
            {
                mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _refresh = mine.Task;
            }

            refresh = _refresh;
        }

        // Started outside the lock: a read that happens to complete synchronously must not clear the shared task
        // before it was published (which would leave a completed task in place and stop every later refresh).
        if (mine is not null)
        {
            _ = RefreshAsync(mine);
        }

        await refresh.WaitAsync(cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            return _keys;
        }
    }

    private async Task RefreshAsync(TaskCompletionSource done)
    {
        DateTimeOffset started = _clock.GetUtcNow();
        Exception? failure = null;
        try
        {
            IReadOnlyList<ApiKeyRecord> all = await store.ListAsync(null, CancellationToken.None).ConfigureAwait(false);
            lock (_lock)
            {
                foreach (string expired in _tombstones.Where(t => started - t.Value > TombstoneLifetime).Select(t => t.Key).ToList())
                {
                    _tombstones.Remove(expired);
                }

                foreach (string old in _createdHere.Where(c => started - c.Value.At > TombstoneLifetime).Select(c => c.Key).ToList())
                {
                    _createdHere.Remove(old);
                }

                var keys = all.Where(k => !_tombstones.ContainsKey(k.KeyId))
                    .ToDictionary(k => k.KeyId, Known.From, StringComparer.Ordinal);
                // A key created here while this read was in flight may be missing from what it read.
                foreach ((string id, (Known key, DateTimeOffset at)) in _createdHere)
                {
                    if (at >= started)
                    {
                        keys.TryAdd(id, key);
                    }
                }

                _keys = keys;
                _loadedAt = started;
            }
        }
        catch (Exception ex)
        {
            failure = ex;
        }
        finally
        {
            lock (_lock)
            {
                if (_refresh == done.Task)
                {
                    _refresh = null;
                }
            }
        }

        if (failure is null)
        {
            done.TrySetResult();
        }
        else
        {
            done.TrySetException(failure);
        }
    }

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '.');

    private sealed record Known(byte[] Hash, ApiKeyIdentity Identity)
    {
        public static Known From(ApiKeyRecord record) =>
            new(Convert.FromHexString(record.SecretHash), new ApiKeyIdentity(record.KeyId, record.Role, record.TenantId, record.UserId));
    }
}
