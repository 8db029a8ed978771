namespace LlmCost.Core.Alerts;

public static class AlertStatuses
{
    /// <summary>Stored, not yet on the queue (the outbox timer will enqueue it).</summary>
    public const string Pending = "pending";
    public const string Queued = "queued";
    public const string Delivering = "delivering";
    public const string Delivered = "delivered";

    /// <summary>At least one subscription failed; the queue message will be retried.</summary>
    public const string Retrying = "retrying";

    /// <summary>Retries exhausted for at least one subscription: the message went to the poison queue.</summary>
    public const string Failed = "failed";

    /// <summary>A rule's cooldown or a disabled rule stopped the fan-out (still visible in the feed).</summary>
    public const string Suppressed = "suppressed";
}

/// <summary>An alert as the in-app feed holds it.</summary>
public sealed record AlertEntry
{
    public required Alert Alert { get; init; }
    public required string Status { get; init; }
    public DateTimeOffset? ReadAt { get; init; }
    public string? StatusReason { get; init; }
}

/// <summary>The in-app feed and outbox: one row per alert id per tenant (insert-if-absent makes re-raises no-ops).</summary>
public interface IAlertStore
{
    /// <summary>True when the alert was new; false when the id was already stored (nothing changes).</summary>
    Task<bool> AddIfAbsentAsync(Alert alert, CancellationToken cancellationToken = default);

    Task<AlertEntry?> GetAsync(string tenantId, string alertId, CancellationToken cancellationToken = default);

    /// <summary>Newest first.</summary>
    Task<IReadOnlyList<AlertEntry>> ListAsync(string tenantId, bool unreadOnly, int max, CancellationToken cancellationToken = default);

    /// <summary>False when there is no such alert.</summary>
    Task<bool> MarkReadAsync(string tenantId, string alertId, DateTimeOffset readAt, CancellationToken cancellationToken = default);

    Task SetStatusAsync(string tenantId, string alertId, string status, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>Alerts still in <see cref="AlertStatuses.Pending"/> (stored but not enqueued, e.g. after a crash).</summary>
    Task<IReadOnlyList<AlertEntry>> ListPendingAsync(int max, CancellationToken cancellationToken = default);

    /// <summary>Removes every alert of the tenant whose scope is this user (GDPR). Returns how many.</summary>
    Task<int> DeleteForUserAsync(string tenantId, string userId, CancellationToken cancellationToken = default);
}

/// <summary>The alert queue (storage queue): messages carry only (tenant, alert id); the feed row has the rest.</summary>
public interface IAlertQueue
{
    Task EnqueueAsync(string tenantId, string alertId, CancellationToken cancellationToken = default);
}

public interface ISubscriptionStore
{
    Task AddAsync(AlertSubscription subscription, CancellationToken cancellationToken = default);
    Task<AlertSubscription?> GetAsync(string tenantId, string subscriptionId, CancellationToken cancellationToken = default);
    Task<IReadOnlyList<AlertSubscription>> ListAsync(string tenantId, CancellationToken cancellationToken = default);
    Task<bool> DeleteAsync(string tenantId, string subscriptionId, CancellationToken cancellationToken = default);
}

public interface IAlertRuleStore
{
    Task UpsertAsync(AlertRule rule, CancellationToken cancellationToken = default);
    Task<AlertRule?> GetAsync(string tenantId, string ruleId, CancellationToken cancellationToken = default);
    Task<IReadOnlyList<AlertRule>> ListAsync(string tenantId, CancellationToken cancellationToken = default);
    Task<bool> DeleteAsync(string tenantId, string ruleId, CancellationToken cancellationToken = default);
    Task<DateTimeOffset?> GetLastFiredAsync(string tenantId, string cooldownKey, CancellationToken cancellationToken = default);
    Task SetLastFiredAsync(string tenantId, string cooldownKey, DateTimeOffset firedAt, CancellationToken cancellationToken = default);
}

public static class DeliveryStatuses
{
    public const string Sending = "sending";
    public const string Delivered = "delivered";
    public const string Failed = "failed";
}

/// <summary>One (alert, subscription) delivery: the de-duplication record.</summary>
public sealed record DeliveryRecord
{
    public required string TenantId { get; init; }
    public required string AlertId { get; init; }
    public required string SubscriptionId { get; init; }
    public required string Status { get; init; }
    public int Attempts { get; init; }
    public string? LastError { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
}

public enum ClaimOutcome
{
    /// <summary>This caller may send now.</summary>
    Claimed,

    /// <summary>Already delivered: never send again.</summary>
    AlreadyDelivered,

    /// <summary>Another run holds a fresh claim: do not send concurrently.</summary>
    Busy,
}

/// <summary>
/// De-duplication per (alert id, subscription). A claim is taken with optimistic concurrency before sending, so two
/// concurrent fan-outs of the same message cannot both send; a stale claim (crash mid-send) can be taken over.
/// </summary>
public interface IDeliveryLog
{
    Task<ClaimOutcome> TryClaimAsync(string tenantId, string alertId, string subscriptionId, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken = default);

    Task CompleteAsync(string tenantId, string alertId, string subscriptionId, bool delivered, string? error, DateTimeOffset now, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<DeliveryRecord>> ListAsync(string tenantId, string alertId, CancellationToken cancellationToken = default);
}

/// <param name="Error">A short reason (HTTP status, SMTP reply); never a secret.</param>
/// <param name="Retryable">A failure worth retrying soon (timeouts, 5xx, 429); a 4xx is not (but the queue still retries).</param>
public sealed record ChannelResult(bool Delivered, string? Error = null, bool Retryable = false)
{
    public static ChannelResult Ok { get; } = new(true);
}

/// <summary>Sends one alert to one subscription (webhook/slack/teams over HTTP, email over SMTP). Retries inside.</summary>
public interface IAlertChannelSender
{
    Task<ChannelResult> SendAsync(AlertSubscription subscription, Alert alert, CancellationToken cancellationToken = default);
}

/// <summary>
/// Alerts recorded elsewhere (e.g. budget thresholds, written atomically with the spend) waiting to be dispatched.
/// The dispatch timer publishes them and then acknowledges them.
/// </summary>
public interface IAlertOutboxSource
{
    Task<IReadOnlyList<Alert>> ReadPendingAsync(int max, CancellationToken cancellationToken = default);

    Task AcknowledgeAsync(IReadOnlyList<Alert> alerts, CancellationToken cancellationToken = default);
}
