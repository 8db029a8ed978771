// Long on purpose: the adapters of the four alert tables (alerts with their outbox state, rules, subscriptions, deliveries)
// share the tenant partitioning and key escaping; one class per port, side by side.
using System.Globalization;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Alerts;

namespace LlmCost.Storage.Operations;

/// <summary>
/// The in-app feed and outbox: PartitionKey = tenant, RowKey = alert id (deterministic), so storing a re-raised alert
/// is a 409 that means "already there" and changes nothing.
/// </summary>
public sealed class TableAlertStore(LlmCostStorage storage) : IAlertStore
{
    /// <summary>Outbox index: one marker per alert still pending ('~' never starts an escaped tenant id).</summary>
    private const string PendingPartition = "~pending";

    private TableClient Table => storage.Table(OperationsStorage.AlertsTable);

    private static string Marker(string tenantId, string alertId) => StorageKeys.Compose(StorageKeys.Escape(tenantId), StorageKeys.Escape(alertId));

    public async Task<bool> AddIfAbsentAsync(Alert alert, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(alert);
        // The outbox marker goes first (a small index partition the dispatch sweep reads instead of scanning the
        // whole table); a marker without its alert is an orphan the sweep removes.
        await Table.UpsertEntityAsync(new TableEntity(PendingPartition, Marker(alert.TenantId, alert.AlertId))
        {
            ["TenantId"] = alert.TenantId,
            ["AlertId"] = alert.AlertId,
        }, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
        var entity = new TableEntity(StorageKeys.Escape(alert.TenantId), StorageKeys.Escape(alert.AlertId))
        {
            ["TenantId"] = alert.TenantId,
            ["AlertId"] = alert.AlertId,
            ["Kind"] = alert.Kind,
            ["Scope"] = alert.Scope,
            ["ScopeId"] = alert.ScopeId,
            ["BudgetId"] = alert.BudgetId,
            ["ThresholdPercent"] = alert.ThresholdPercent?.ToString(CultureInfo.InvariantCulture),
            ["Message"] = alert.Message,
            ["CreatedAt"] = alert.CreatedAt,
            ["Details"] = JsonSerializer.Serialize(alert.Details),
            ["Status"] = AlertStatuses.Pending,
        };
        var result = await OptimisticConcurrency.WriteAsync(Table, entity, default, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded && (await GetAsync(alert.TenantId, alert.AlertId, cancellationToken).ConfigureAwait(false))?.Status != AlertStatuses.Pending)
        {
            await Table.DeleteEntityAsync(PendingPartition, Marker(alert.TenantId, alert.AlertId), ETag.All, cancellationToken).ConfigureAwait(false);
        }

        return result.Succeeded;
    }

    public async Task<AlertEntry?> GetAsync(string tenantId, string alertId, CancellationToken cancellationToken = default)
    {
        var row = await Table.GetEntityIfExistsAsync<TableEntity>(StorageKeys.Escape(tenantId), StorageKeys.Escape(alertId), cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        return row.HasValue ? FromEntity(row.Value!) : null;
    }

    public async Task<IReadOnlyList<AlertEntry>> ListAsync(string tenantId, bool unreadOnly, int max, CancellationToken cancellationToken = default)
    {
        var partition = StorageKeys.Escape(tenantId);
        var entries = new List<AlertEntry>();
        await foreach (var e in Table.QueryAsync<TableEntity>(x => x.PartitionKey == partition, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var entry = FromEntity(e);
            if (!unreadOnly || entry.ReadAt is null)
            {
                entries.Add(entry);
            }
        }

        return [.. entries.OrderByDescending(e => e.Alert.CreatedAt).ThenBy(e => e.Alert.AlertId, StringComparer.Ordinal).Take(max)];
    }

    public async Task<bool> MarkReadAsync(string tenantId, string alertId, DateTimeOffset readAt, CancellationToken cancellationToken = default)
    {
        var patch = new TableEntity(StorageKeys.Escape(tenantId), StorageKeys.Escape(alertId)) { ["ReadAt"] = readAt };
        try
        {
            await Table.UpdateEntityAsync(patch, ETag.All, TableUpdateMode.Merge, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return false;
        }
    }

    public async Task SetStatusAsync(string tenantId, string alertId, string status, string? reason = null, CancellationToken cancellationToken = default)
    {
        var patch = new TableEntity(StorageKeys.Escape(tenantId), StorageKeys.Escape(alertId)) { ["Status"] = status, ["StatusReason"] = reason ?? string.Empty };
        try
        {
            await Table.UpdateEntityAsync(patch, ETag.All, TableUpdateMode.Merge, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // Deleted meanwhile (GDPR): nothing left to track.
        }

        if (status != AlertStatuses.Pending)
        {
            await Table.DeleteEntityAsync(PendingPartition, Marker(tenantId, alertId), ETag.All, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<IReadOnlyList<AlertEntry>> ListPendingAsync(int max, CancellationToken cancellationToken = default)
    {
        var entries = new List<AlertEntry>();
        await foreach (var marker in Table.QueryAsync<TableEntity>(x => x.PartitionKey == PendingPartition, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var entry = await GetAsync(marker.GetString("TenantId"), marker.GetString("AlertId"), cancellationToken).ConfigureAwait(false);
            if (entry?.Status == AlertStatuses.Pending)
            {
                entries.Add(entry);
                if (entries.Count >= max)
                {
                    break;
                }
            }
            else
            {
                // Orphan (the alert write never happened) or already moved on: drop the marker.
                await Table.DeleteEntityAsync(marker.PartitionKey, marker.RowKey, ETag.All, cancellationToken).ConfigureAwait(false);
            }
        }

        return entries;
    }

    public async Task<int> DeleteForUserAsync(string tenantId, string userId, CancellationToken cancellationToken = default)
    {
        var count = 0;
        var partition = StorageKeys.Escape(tenantId);
        await foreach (var e in Table.QueryAsync<TableEntity>(x => x.PartitionKey == partition && x.GetString("Scope") == "user" && x.GetString("ScopeId") == userId, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken)
            .ConfigureAwait(false))
        {
            await Table.DeleteEntityAsync(e.PartitionKey, e.RowKey, ETag.All, cancellationToken).ConfigureAwait(false);
            count++;
        }

        return count;
    }

    private static AlertEntry FromEntity(TableEntity e)
    {
        var threshold = e.GetString("ThresholdPercent");
        var reason = e.GetString("StatusReason");
        return new AlertEntry
        {
            Alert = new Alert
            {
                AlertId = e.GetString("AlertId"),
                Kind = e.GetString("Kind"),
                TenantId = e.GetString("TenantId"),
                Scope = e.GetString("Scope"),
                ScopeId = e.GetString("ScopeId"),
                BudgetId = e.GetString("BudgetId"),
                ThresholdPercent = string.IsNullOrEmpty(threshold) ? null : decimal.Parse(threshold, CultureInfo.InvariantCulture),
                Message = e.GetString("Message"),
                CreatedAt = e.GetDateTimeOffset("CreatedAt")!.Value,
                Details = JsonSerializer.Deserialize<Dictionary<string, string>>(e.GetString("Details") ?? "{}") ?? [],
            },
            Status = e.GetString("Status"),
            StatusReason = string.IsNullOrEmpty(reason) ? null : reason,
            ReadAt = e.GetDateTimeOffset("ReadAt"),
        };
    }
}

/// <summary>Subscriptions: PartitionKey = tenant, RowKey = subscription id. The secret is stored (encrypted at rest by the service) and never returned.</summary>
public sealed class TableSubscriptionStore(LlmCostStorage storage) : ISubscriptionStore
{
    private TableClient Table => storage.Table(OperationsStorage.SubscriptionsTable);

    public Task AddAsync(AlertSubscription subscription, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        return Table.AddEntityAsync(new TableEntity(StorageKeys.Escape(subscription.TenantId), StorageKeys.Escape(subscription.SubscriptionId))
        {
            ["TenantId"] = subscription.TenantId,
            ["SubscriptionId"] = subscription.SubscriptionId,
            ["Channel"] = subscription.Channel,
            ["Url"] = subscription.Url,
            ["Email"] = subscription.Email,
            ["Secret"] = subscription.Secret,
            ["Kinds"] = string.Join(',', subscription.Kinds),
            ["CreatedAt"] = subscription.CreatedAt,
        }, cancellationToken);
    }

    public async Task<AlertSubscription?> GetAsync(string tenantId, string subscriptionId, CancellationToken cancellationToken = default)
    {
        var row = await Table.GetEntityIfExistsAsync<TableEntity>(StorageKeys.Escape(tenantId), StorageKeys.Escape(subscriptionId), cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        return row.HasValue ? FromEntity(row.Value!) : null;
    }

    public async Task<IReadOnlyList<AlertSubscription>> ListAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var partition = StorageKeys.Escape(tenantId);
        var list = new List<AlertSubscription>();
        await foreach (var e in Table.QueryAsync<TableEntity>(x => x.PartitionKey == partition, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            list.Add(FromEntity(e));
        }

        return list;
    }

    public async Task<bool> DeleteAsync(string tenantId, string subscriptionId, CancellationToken cancellationToken = default)
    {
        var response = await Table.DeleteEntityAsync(StorageKeys.Escape(tenantId), StorageKeys.Escape(subscriptionId), ETag.All, cancellationToken).ConfigureAwait(false);
        return response.Status != 404;
    }

    private static AlertSubscription FromEntity(TableEntity e) => new()
    {
        SubscriptionId = e.GetString("SubscriptionId"),
        TenantId = e.GetString("TenantId"),
        Channel = e.GetString("Channel"),
        Url = e.GetString("Url"),
        Email = e.GetString("Email"),
        Secret = e.GetString("Secret"),
        Kinds = (e.GetString("Kinds") ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries),
        CreatedAt = e.GetDateTimeOffset("CreatedAt")!.Value,
    };
}

/// <summary>Rules (RowKey "r|{id}") and cooldown marks (RowKey "c|{key}") share the tenant's partition.</summary>
public sealed class TableAlertRuleStore(LlmCostStorage storage) : IAlertRuleStore
{
    private TableClient Table => storage.Table(OperationsStorage.RulesTable);

    public Task UpsertAsync(AlertRule rule, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return Table.UpsertEntityAsync(new TableEntity(StorageKeys.Escape(rule.TenantId), "r|" + StorageKeys.Escape(rule.RuleId))
        {
            ["TenantId"] = rule.TenantId,
            ["RuleId"] = rule.RuleId,
            ["Kind"] = rule.Kind,
            ["Scope"] = rule.Scope,
            ["ScopeId"] = rule.ScopeId,
            ["Enabled"] = rule.Enabled,
            ["CooldownSeconds"] = (long)rule.Cooldown.TotalSeconds,
            ["CreatedAt"] = rule.CreatedAt,
        }, TableUpdateMode.Replace, cancellationToken);
    }

    public async Task<AlertRule?> GetAsync(string tenantId, string ruleId, CancellationToken cancellationToken = default)
    {
        var row = await Table.GetEntityIfExistsAsync<TableEntity>(StorageKeys.Escape(tenantId), "r|" + StorageKeys.Escape(ruleId), cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        return row.HasValue ? FromEntity(row.Value!) : null;
    }

    public async Task<IReadOnlyList<AlertRule>> ListAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var partition = StorageKeys.Escape(tenantId);
        var list = new List<AlertRule>();
        await foreach (var e in Table.QueryAsync<TableEntity>(x => x.PartitionKey == partition && x.RowKey.CompareTo("r|") > 0 && x.RowKey.CompareTo("r}") < 0, cancellationToken: cancellationToken)
            .ConfigureAwait(false))
        {
            list.Add(FromEntity(e));
        }

        return list;
    }

    public async Task<bool> DeleteAsync(string tenantId, string ruleId, CancellationToken cancellationToken = default)
    {
        var response = await Table.DeleteEntityAsync(StorageKeys.Escape(tenantId), "r|" + StorageKeys.Escape(ruleId), ETag.All, cancellationToken).ConfigureAwait(false);
        return response.Status != 404;
    }

    public async Task<DateTimeOffset?> GetLastFiredAsync(string tenantId, string cooldownKey, CancellationToken cancellationToken = default)
    {
        var row = await Table.GetEntityIfExistsAsync<TableEntity>(StorageKeys.Escape(tenantId), "c|" + StorageKeys.Escape(cooldownKey), cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        return row.HasValue ? row.Value!.GetDateTimeOffset("FiredAt") : null;
    }

    public Task SetLastFiredAsync(string tenantId, string cooldownKey, DateTimeOffset firedAt, CancellationToken cancellationToken = default) =>
        Table.UpsertEntityAsync(new TableEntity(StorageKeys.Escape(tenantId), "c|" + StorageKeys.Escape(cooldownKey)) { ["FiredAt"] = firedAt },
            TableUpdateMode.Replace, cancellationToken);

    private static AlertRule FromEntity(TableEntity e) => new()
    {
        RuleId = e.GetString("RuleId"),
        TenantId = e.GetString("TenantId"),
        Kind = e.GetString("Kind"),
        Scope = e.GetString("Scope"),
        ScopeId = e.GetString("ScopeId"),
        Enabled = e.GetBoolean("Enabled") ?? true,
        Cooldown = TimeSpan.FromSeconds(e.GetInt64("CooldownSeconds") ?? 0),
        CreatedAt = e.GetDateTimeOffset("CreatedAt")!.Value,
    };
}

/// <summary>
/// Delivery records: PartitionKey = <c>{tenant}|{alert id}</c>, RowKey = subscription id. Claims use the ETag
/// (insert for the first claim, conditional replace to take over a failed or stale one), so two fan-outs of the same
/// alert can never both send to one subscription.
/// </summary>
public sealed class TableDeliveryLog(LlmCostStorage storage) : IDeliveryLog
{
    private TableClient Table => storage.Table(OperationsStorage.DeliveriesTable);

    public async Task<ClaimOutcome> TryClaimAsync(string tenantId, string alertId, string subscriptionId, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        var partition = Partition(tenantId, alertId);
        var rowKey = StorageKeys.Escape(subscriptionId);
        var current = await OptimisticConcurrency.ReadAsync(Table, partition, rowKey, cancellationToken).ConfigureAwait(false);
        var attempts = 0;
        if (current is { } c)
        {
            var status = c.Value.GetString("Status");
            if (status == DeliveryStatuses.Delivered)
            {
                return ClaimOutcome.AlreadyDelivered;
            }

            if (status == DeliveryStatuses.Sending && c.Value.GetDateTimeOffset("UpdatedAt") is { } at && now - at < lease)
            {
                return ClaimOutcome.Busy;
            }

            attempts = c.Value.GetInt32("Attempts") ?? 0;
        }

        var claim = Entity(tenantId, alertId, subscriptionId, DeliveryStatuses.Sending, attempts + 1, current?.Value.GetString("LastError"), now);
        var result = await OptimisticConcurrency.WriteAsync(Table, claim, current?.ETag ?? default, cancellationToken).ConfigureAwait(false);
        return result.Succeeded ? ClaimOutcome.Claimed : ClaimOutcome.Busy;
    }

    public async Task CompleteAsync(string tenantId, string alertId, string subscriptionId, bool delivered, string? error, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var current = await OptimisticConcurrency.ReadAsync(Table, Partition(tenantId, alertId), StorageKeys.Escape(subscriptionId), cancellationToken).ConfigureAwait(false);
        var attempts = current?.Value.GetInt32("Attempts") ?? 1;
        var entity = Entity(tenantId, alertId, subscriptionId, delivered ? DeliveryStatuses.Delivered : DeliveryStatuses.Failed, attempts, error, now);
        await Table.UpsertEntityAsync(entity, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<DeliveryRecord>> ListAsync(string tenantId, string alertId, CancellationToken cancellationToken = default)
    {
        var partition = Partition(tenantId, alertId);
        var list = new List<DeliveryRecord>();
        await foreach (var e in Table.QueryAsync<TableEntity>(x => x.PartitionKey == partition, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var error = e.GetString("LastError");
            list.Add(new DeliveryRecord
            {
                TenantId = e.GetString("TenantId"),
                AlertId = e.GetString("AlertId"),
                SubscriptionId = e.GetString("SubscriptionId"),
                Status = e.GetString("Status"),
                Attempts = e.GetInt32("Attempts") ?? 0,
                LastError = string.IsNullOrEmpty(error) ? null : error,
                UpdatedAt = e.GetDateTimeOffset("UpdatedAt")!.Value,
            });
        }

        return list;
    }

    private static string Partition(string tenantId, string alertId) => StorageKeys.Compose(StorageKeys.Escape(tenantId), StorageKeys.Escape(alertId));

    private static TableEntity Entity(string tenantId, string alertId, string subscriptionId, string status, int attempts, string? error, DateTimeOffset now) =>
        new(Partition(tenantId, alertId), StorageKeys.Escape(subscriptionId))
        {
            ["TenantId"] = tenantId,
            ["AlertId"] = alertId,
            ["SubscriptionId"] = subscriptionId,
            ["Status"] = status,
            ["Attempts"] = attempts,
            ["LastError"] = error ?? string.Empty,
            ["UpdatedAt"] = now,
        };
}

/// <summary>The alert queue: JSON {"tenant_id","alert_id"} (base64-encoded by the client, as the Functions host expects).</summary>
public sealed class StorageAlertQueue(LlmCostStorage storage) : IAlertQueue
{
    public Task EnqueueAsync(string tenantId, string alertId, CancellationToken cancellationToken = default) =>
        storage.Queue(OperationsStorage.AlertQueue).SendMessageAsync(Message(tenantId, alertId), cancellationToken);

    public static string Message(string tenantId, string alertId) =>
        JsonSerializer.Serialize(new Dictionary<string, string> { ["tenant_id"] = tenantId, ["alert_id"] = alertId });

    public static bool TryParse(string? message, out string tenantId, out string alertId)
    {
        tenantId = alertId = string.Empty;
        if (string.IsNullOrWhiteSpace(message))
        {
            return false;
        }

        try
        {
            var fields = JsonSerializer.Deserialize<Dictionary<string, string>>(message);
            if (fields is null || !fields.TryGetValue("tenant_id", out var t) || !fields.TryGetValue("alert_id", out var a) || t.Length == 0 || a.Length == 0)
            {
                return false;
            }

            (tenantId, alertId) = (t, a);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
