using System.Security.Cryptography;

namespace LlmCost.Core.Audit;

/// <summary>
/// One immutable audit line: who (<see cref="Actor"/>) did what (<see cref="Action"/>) to which object
/// (<see cref="TargetType"/>/<see cref="TargetId"/>) of which tenant, and when. The one audit concept of the service:
/// key creation and revocation, budget and policy changes, freezes, GDPR export and erasure all write these.
/// </summary>
public sealed record AuditEntry
{
    /// <summary>Tenant of a line about no tenant in particular (e.g. an admin key, which acts on every tenant).</summary>
    public const string ServiceWide = "*";

    public required string AuditId { get; init; }

    /// <summary>The tenant the action concerns, or <see cref="ServiceWide"/>.</summary>
    public required string TenantId { get; init; }

    public required DateTimeOffset At { get; init; }

    /// <summary>"key:{keyId}" of the API key that acted (never the key itself), or a role/system name.</summary>
    public required string Actor { get; init; }

    /// <summary>"key.create", "key.revoke", "budget.create", "budget.update", "budget.delete", "freeze", "unfreeze",
    /// "profile.apply", "breaker.reset", "gdpr.export", "gdpr.delete".</summary>
    public required string Action { get; init; }

    public required string TargetType { get; init; }
    public required string TargetId { get; init; }

    /// <summary>The user the line is about, when there is one (a bound key, a user budget, a GDPR request).</summary>
    public string? UserId { get; init; }

    public IReadOnlyDictionary<string, string> Details { get; init; } = new Dictionary<string, string>();

    /// <summary>Whether this line is about <paramref name="userId"/> (for GDPR export).</summary>
    public bool IsAbout(string userId) =>
        string.Equals(UserId, userId, StringComparison.Ordinal)
        || (TargetType == "user" && string.Equals(TargetId, userId, StringComparison.Ordinal))
        || (Details.TryGetValue("scope", out var scope) && scope == "user"
            && Details.TryGetValue("scope_id", out var scopeId) && string.Equals(scopeId, userId, StringComparison.Ordinal));

    /// <summary>A new line with a random id.</summary>
    public static AuditEntry Create(
        string tenantId, string actor, string action, string targetType, string targetId, DateTimeOffset at,
        IReadOnlyDictionary<string, string>? details = null, string? userId = null) => new()
    {
        AuditId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)),
        TenantId = tenantId,
        At = at,
        Actor = actor,
        Action = action,
        TargetType = targetType,
        TargetId = targetId,
        UserId = userId,
        Details = details ?? new Dictionary<string, string>(),
    };
}

/// <summary>The audit log: append-only, newest first per tenant.</summary>
public interface IAuditLog
{
    /// <summary>Appends <paramref name="entry"/>; appending the same <see cref="AuditEntry.AuditId"/> again changes nothing.</summary>
    Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default);

    /// <summary>Lines of a tenant (or <see cref="AuditEntry.ServiceWide"/>), newest first, at most <paramref name="max"/>.</summary>
    Task<IReadOnlyList<AuditEntry>> ListAsync(string tenantId, int max, CancellationToken cancellationToken = default);
}

/// <summary>
/// A module that must write its audit lines atomically with its own change (e.g. budgets, in the change's own
/// transaction) keeps them as pending lines; <see cref="AuditTrail"/> moves them into the log.
/// </summary>
public interface IAuditOutbox
{
    /// <summary>Pending lines of a tenant, at most <paramref name="max"/>.</summary>
    Task<IReadOnlyList<AuditEntry>> PendingAsync(string tenantId, int max, CancellationToken cancellationToken = default);

    /// <summary>Forgets pending lines that are now in the log.</summary>
    Task RemoveAsync(string tenantId, IReadOnlyCollection<AuditEntry> entries, CancellationToken cancellationToken = default);
}

/// <summary>
/// The one way to write and read the audit log. Lines held in outboxes are moved into the log (append, then forget:
/// appending is idempotent, so a crash in between only repeats a no-op) before a tenant's log is read, so a read
/// always sees every committed change.
/// </summary>
public sealed class AuditTrail(IAuditLog log, IEnumerable<IAuditOutbox> outboxes)
{
    private const int DrainBatch = 200;

    public Task RecordAsync(AuditEntry entry, CancellationToken cancellationToken = default) => log.AppendAsync(entry, cancellationToken);

    /// <summary>Moves a tenant's pending lines into the log.</summary>
    public async Task<int> DrainAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var moved = 0;
        foreach (var outbox in outboxes)
        {
            while (true)
            {
                var pending = await outbox.PendingAsync(tenantId, DrainBatch, cancellationToken).ConfigureAwait(false);
                foreach (var entry in pending)
                {
                    await log.AppendAsync(entry, cancellationToken).ConfigureAwait(false);
                }

                if (pending.Count > 0)
                {
                    await outbox.RemoveAsync(tenantId, pending, cancellationToken).ConfigureAwait(false);
                    moved += pending.Count;
                }

                if (pending.Count < DrainBatch)
                {
                    break;
                }
            }
        }

        return moved;
    }

    public async Task<IReadOnlyList<AuditEntry>> ListAsync(string tenantId, int max, CancellationToken cancellationToken = default)
    {
        await DrainAsync(tenantId, cancellationToken).ConfigureAwait(false);
        return await log.ListAsync(tenantId, max, cancellationToken).ConfigureAwait(false);
    }
}
