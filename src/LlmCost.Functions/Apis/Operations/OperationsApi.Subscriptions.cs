using LlmCost.Core.Alerts;
using Microsoft.Extensions.Options;

namespace LlmCost.Functions.Apis.Operations;

/// <summary>Alert subscriptions: where a tenant's alerts are delivered (webhook, Slack, Teams, e-mail).</summary>
public static partial class OperationsApi
{
    private static async Task<IResult> CreateSubscription(
        ClaimsPrincipal caller, AlertAdminService admin, IOptions<AlertDeliveryOptions> delivery, SubscriptionBody body, CancellationToken cancellationToken)
    {
        var request = new SubscriptionRequest(body.TenantId, body.Channel, body.Url, body.Email, body.Secret, body.Kinds);
        var errors = SubscriptionValidator.Validate(request);
        if (!errors.ContainsKey("url") && body.Channel != AlertChannels.Email
            && WebhookTargets.Problem(body.Url, delivery.Value.AllowPrivateNetworkTargets) is { } target)
        {
            errors["url"] = [$"url {target} (LlmCost:Alerts:AllowPrivateNetworkTargets is off)"];
        }

        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors, "Invalid subscription");
        }

        if (!caller.TryResolveTenant(body.TenantId, out var tenantId, out var problem))
        {
            return problem;
        }

        var subscription = await admin.CreateSubscriptionAsync(tenantId, request, cancellationToken);
        return TypedResults.Created($"/api/alerts/subscriptions/{subscription.SubscriptionId}?tenant_id={Uri.EscapeDataString(tenantId)}", SubscriptionResponse.From(subscription, reveal: true));
    }

    private static async Task<IResult> ListSubscriptions(ClaimsPrincipal caller, ISubscriptionStore subscriptions, string? tenant_id, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        if (caller.CheckScopeAccess() is { } denied)
        {
            return denied;
        }

        var list = await subscriptions.ListAsync(tenantId, cancellationToken);
        // Slack/Teams webhook URLs are bearer secrets: only admin keys see them whole.
        var reveal = caller.IsAdmin();
        return TypedResults.Ok(new SubscriptionListResponse(list.OrderBy(s => s.CreatedAt).Select(s => SubscriptionResponse.From(s, reveal)).ToList()));
    }

    private static async Task<IResult> DeleteSubscription(
        ClaimsPrincipal caller, ISubscriptionStore subscriptions, string subscriptionId, string? tenant_id, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        return await subscriptions.DeleteAsync(tenantId, subscriptionId, cancellationToken)
            ? TypedResults.NoContent()
            : ApiProblems.NotFound("subscription", subscriptionId);
    }
}
