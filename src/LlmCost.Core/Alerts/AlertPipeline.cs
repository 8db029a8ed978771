namespace LlmCost.Core.Alerts;

/// <summary>
/// <see cref="IAlertPublisher"/>: store the alert in the feed (insert-if-absent by its deterministic id), then put it
/// on the queue. If the process dies between the two, the row stays "pending" and the dispatch timer enqueues it.
/// A re-raised alert (same id) is a no-op, so detectors can rerun freely.
/// </summary>
public sealed class AlertPublisher(IAlertStore store, IAlertQueue queue) : IAlertPublisher
{
    public async Task PublishAsync(IReadOnlyList<Alert> alerts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(alerts);
        foreach (var alert in alerts)
        {
            if (await store.AddIfAbsentAsync(alert, cancellationToken).ConfigureAwait(false))
            {
                await queue.EnqueueAsync(alert.TenantId, alert.AlertId, cancellationToken).ConfigureAwait(false);
                await store.SetStatusAsync(alert.TenantId, alert.AlertId, AlertStatuses.Queued, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The outbox sweep: enqueue what is stored but not queued, and publish other modules' outboxes.</summary>
    public async Task<int> DispatchPendingAsync(IEnumerable<IAlertOutboxSource> sources, int max = 500, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sources);
        var count = 0;
        foreach (var source in sources)
        {
            var alerts = await source.ReadPendingAsync(max, cancellationToken).ConfigureAwait(false);
            if (alerts.Count > 0)
            {
                await PublishAsync(alerts, cancellationToken).ConfigureAwait(false);
                await source.AcknowledgeAsync(alerts, cancellationToken).ConfigureAwait(false);
                count += alerts.Count;
            }
        }

        foreach (var entry in await store.ListPendingAsync(max, cancellationToken).ConfigureAwait(false))
        {
            await queue.EnqueueAsync(entry.Alert.TenantId, entry.Alert.AlertId, cancellationToken).ConfigureAwait(false);
            await store.SetStatusAsync(entry.Alert.TenantId, entry.Alert.AlertId, AlertStatuses.Queued, cancellationToken: cancellationToken).ConfigureAwait(false);
            count++;
        }

        return count;
    }
}

public sealed record FanOutResult(string Status, int Delivered, int Skipped, IReadOnlyList<string> Failures);

/// <summary>Thrown so that the queue runner retries the message (and poisons it after the last attempt).</summary>
public sealed class AlertDeliveryException(string message) : Exception(message);

/// <summary>
/// The queue-triggered fan-out of one alert to every matching subscription. Idempotent per (alert id,
/// subscription): a delivered pair is never sent again; a failed pair is retried on the next attempt. When any
/// subscription failed the method throws, the queue redelivers, and after <see cref="MaxAttempts"/> the alert is
/// marked failed (and the message lands in the poison queue), visible in the feed and the delivery records.
/// </summary>
public sealed class AlertFanOut(
    IAlertStore alerts, ISubscriptionStore subscriptions, IAlertRuleStore rules, IDeliveryLog deliveries,
    IAlertChannelSender sender, TimeProvider timeProvider)
{
    public const int MaxAttempts = 5;

    /// <summary>A claim older than this is assumed abandoned (longer than a send with its retries can take).</summary>
    public static readonly TimeSpan ClaimLease = TimeSpan.FromMinutes(2);

    public async Task<FanOutResult> HandleAsync(string tenantId, string alertId, long dequeueCount, CancellationToken cancellationToken = default)
    {
        var entry = await alerts.GetAsync(tenantId, alertId, cancellationToken).ConfigureAwait(false);
        if (entry is null || entry.Status is AlertStatuses.Suppressed or AlertStatuses.Delivered)
        {
            // Deleted (GDPR) or already settled: a redelivered message changes nothing.
            return new FanOutResult(entry?.Status ?? "missing", 0, 0, []);
        }

        var alert = entry.Alert;
        var now = timeProvider.GetUtcNow();
        if (entry.Status is AlertStatuses.Queued or AlertStatuses.Pending)
        {
            // The cooldown is decided once per alert, on its first attempt; retries of the same alert are not "new".
            var tenantRules = await rules.ListAsync(tenantId, cancellationToken).ConfigureAwait(false);
            var lastFired = new Dictionary<string, DateTimeOffset?>();
            foreach (var rule in tenantRules.Where(r => r.Matches(alert)))
            {
                lastFired[rule.CooldownKey(alert)] = await rules.GetLastFiredAsync(tenantId, rule.CooldownKey(alert), cancellationToken).ConfigureAwait(false);
            }

            var (decision, decidingRule) = AlertRulePolicy.Decide(alert, tenantRules, k => lastFired.GetValueOrDefault(k), now);
            if (decision != RuleDecision.Deliver)
            {
                var reason = decision == RuleDecision.Disabled ? $"rule {decidingRule!.RuleId} is disabled" : $"rule {decidingRule!.RuleId} is cooling down";
                await alerts.SetStatusAsync(tenantId, alertId, AlertStatuses.Suppressed, reason, cancellationToken).ConfigureAwait(false);
                return new FanOutResult(AlertStatuses.Suppressed, 0, 0, []);
            }

            if (decidingRule is not null)
            {
                await rules.SetLastFiredAsync(tenantId, decidingRule.CooldownKey(alert), now, cancellationToken).ConfigureAwait(false);
            }

            await alerts.SetStatusAsync(tenantId, alertId, AlertStatuses.Delivering, cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        var targets = (await subscriptions.ListAsync(tenantId, cancellationToken).ConfigureAwait(false)).Where(s => s.Wants(alert)).ToList();
        var delivered = 0;
        var skipped = 0;
        var failures = new List<string>();
        foreach (var subscription in targets)
        {
            var claim = await deliveries.TryClaimAsync(tenantId, alertId, subscription.SubscriptionId, timeProvider.GetUtcNow(), ClaimLease, cancellationToken)
                .ConfigureAwait(false);
            if (claim == ClaimOutcome.AlreadyDelivered)
            {
                skipped++;
                continue;
            }

            if (claim == ClaimOutcome.Busy)
            {
                failures.Add($"{subscription.SubscriptionId}: in progress elsewhere");
                continue;
            }

            ChannelResult result;
            try
            {
                result = await sender.SendAsync(subscription, alert, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or TimeoutException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                result = new ChannelResult(false, ex.GetType().Name);
            }

            await deliveries.CompleteAsync(tenantId, alertId, subscription.SubscriptionId, result.Delivered, result.Error, timeProvider.GetUtcNow(), cancellationToken)
                .ConfigureAwait(false);
            if (result.Delivered)
            {
                delivered++;
            }
            else
            {
                failures.Add($"{subscription.SubscriptionId}: {result.Error}");
            }
        }

        if (failures.Count == 0)
        {
            await alerts.SetStatusAsync(tenantId, alertId, AlertStatuses.Delivered, cancellationToken: cancellationToken).ConfigureAwait(false);
            return new FanOutResult(AlertStatuses.Delivered, delivered, skipped, failures);
        }

        var last = dequeueCount >= MaxAttempts;
        var status = last ? AlertStatuses.Failed : AlertStatuses.Retrying;
        var summary = string.Join("; ", failures);
        await alerts.SetStatusAsync(tenantId, alertId, status, $"attempt {dequeueCount}: {summary}", cancellationToken).ConfigureAwait(false);
        throw new AlertDeliveryException($"alert {alertId}: {failures.Count} delivery(ies) failed on attempt {dequeueCount}: {summary}");
    }
}
