using System.Globalization;
using System.Security.Claims;
using LlmCost.Core.Alerts;
using LlmCost.Functions.Hosting;
using LlmCost.Functions.Hosting.Auth;

namespace LlmCost.Functions.Apis.Operations;

/// <summary>The in-app alert feed: list, read one with its deliveries, mark read.</summary>
public static partial class OperationsApi
{
    private static async Task<IResult> ListAlerts(
        ClaimsPrincipal caller, IAlertStore alerts, string? tenant_id, bool? unread, int? limit, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        if (limit is < 1 or > 500)
        {
            return ApiProblems.Field("limit", "must be between 1 and 500");
        }

        var entries = await alerts.ListAsync(tenantId, unread ?? false, limit ?? 100, cancellationToken);
        return TypedResults.Ok(new { alerts = entries.Where(e => Visible(caller, e)).Select(e => AlertJson(e, null)) });
    }

    private static async Task<IResult> GetAlert(
        ClaimsPrincipal caller, IAlertStore alerts, IDeliveryLog deliveries, string alertId, string? tenant_id, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        var entry = await alerts.GetAsync(tenantId, alertId, cancellationToken);
        if (entry is null || !Visible(caller, entry))
        {
            return ApiProblems.NotFound("alert", alertId);
        }

        return TypedResults.Ok(AlertJson(entry, await deliveries.ListAsync(tenantId, alertId, cancellationToken)));
    }

    private static async Task<IResult> MarkRead(
        ClaimsPrincipal caller, IAlertStore alerts, TimeProvider time, string alertId, string? tenant_id, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        var entry = await alerts.GetAsync(tenantId, alertId, cancellationToken);
        if (entry is null || !Visible(caller, entry))
        {
            return ApiProblems.NotFound("alert", alertId);
        }

        await alerts.MarkReadAsync(tenantId, alertId, time.GetUtcNow(), cancellationToken);
        return TypedResults.NoContent();
    }

    private static object AlertJson(AlertEntry e, IReadOnlyList<DeliveryRecord>? deliveries) => new
    {
        alert_id = e.Alert.AlertId,
        kind = e.Alert.Kind,
        tenant_id = e.Alert.TenantId,
        scope = e.Alert.Scope,
        scope_id = e.Alert.ScopeId,
        budget_id = e.Alert.BudgetId,
        threshold_percent = e.Alert.ThresholdPercent?.ToString(CultureInfo.InvariantCulture),
        message = e.Alert.Message,
        created_at = e.Alert.CreatedAt,
        status = e.Status,
        status_reason = e.StatusReason,
        read = e.ReadAt is not null,
        read_at = e.ReadAt,
        details = e.Alert.Details,
        deliveries = deliveries?.Select(d => new
        {
            subscription_id = d.SubscriptionId,
            status = d.Status,
            attempts = d.Attempts,
            last_error = d.LastError,
            updated_at = d.UpdatedAt,
        }),
    };
}
