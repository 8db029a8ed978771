namespace LlmCost.Core.Alerts;

/// <summary>
/// The in-app alert feed of a tenant as one caller may see it: <paramref name="visible"/> says which scopes the caller
/// may see, and an alert outside them is answered exactly as a missing one (null), so its existence does not leak.
/// </summary>
public sealed class AlertFeed(IAlertStore alerts, IDeliveryLog deliveries, TimeProvider time)
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 500;

    public async Task<IReadOnlyList<AlertEntry>> ListAsync(
        string tenantId, bool unreadOnly, int limit, Func<Alert, bool> visible, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(visible);
        var entries = await alerts.ListAsync(tenantId, unreadOnly, limit, cancellationToken).ConfigureAwait(false);
        return entries.Where(e => visible(e.Alert)).ToList();
    }

    /// <summary>One alert with its delivery attempts, or null when it does not exist or is not visible.</summary>
    public async Task<(AlertEntry Entry, IReadOnlyList<DeliveryRecord> Deliveries)?> GetAsync(
        string tenantId, string alertId, Func<Alert, bool> visible, CancellationToken cancellationToken = default)
    {
        if (await FindAsync(tenantId, alertId, visible, cancellationToken).ConfigureAwait(false) is not { } entry)
        {
            return null;
        }

        return (entry, await deliveries.ListAsync(tenantId, alertId, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Marks a visible alert read now; false when it does not exist or is not visible.</summary>
    public async Task<bool> MarkReadAsync(string tenantId, string alertId, Func<Alert, bool> visible, CancellationToken cancellationToken = default)
    {
        if (await FindAsync(tenantId, alertId, visible, cancellationToken).ConfigureAwait(false) is null)
        {
            return false;
        }

        await alerts.MarkReadAsync(tenantId, alertId, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        return true;
    }

    private async Task<AlertEntry?> FindAsync(string tenantId, string alertId, Func<Alert, bool> visible, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(visible);
        var entry = await alerts.GetAsync(tenantId, alertId, cancellationToken).ConfigureAwait(false);
        return entry is not null && visible(entry.Alert) ? entry : null;
    }
}
