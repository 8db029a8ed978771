using LlmCost.Core.Alerts;

namespace LlmCost.Functions.Apis.Operations;

/// <summary>The in-app alert feed: list, read one with its deliveries, mark read.</summary>
public static partial class OperationsApi
{
    private static async Task<IResult> ListAlerts(
        ClaimsPrincipal caller, AlertFeed feed, string? tenant_id, bool? unread, int? limit, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        if (limit is < 1 or > AlertFeed.MaxLimit)
        {
            return ApiProblems.Field("limit", $"must be between 1 and {AlertFeed.MaxLimit}");
        }

        var entries = await feed.ListAsync(tenantId, unread ?? false, limit ?? AlertFeed.DefaultLimit, Visible(caller), cancellationToken);
        return TypedResults.Ok(new AlertFeedResponse(entries.Select(e => AlertFeedEntryResponse.From(e, null)).ToList()));
    }

    private static async Task<IResult> GetAlert(ClaimsPrincipal caller, AlertFeed feed, string alertId, string? tenant_id, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        return await feed.GetAsync(tenantId, alertId, Visible(caller), cancellationToken) is { } found
            ? TypedResults.Ok(AlertFeedEntryResponse.From(found.Entry, found.Deliveries))
            : ApiProblems.NotFound("alert", alertId);
    }

    private static async Task<IResult> MarkRead(ClaimsPrincipal caller, AlertFeed feed, string alertId, string? tenant_id, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        return await feed.MarkReadAsync(tenantId, alertId, Visible(caller), cancellationToken)
            ? TypedResults.NoContent()
            : ApiProblems.NotFound("alert", alertId);
    }

    /// <summary>The scopes this caller may see (a user-bound reader only its own).</summary>
    private static Func<Alert, bool> Visible(ClaimsPrincipal caller) => alert => caller.MaySee(alert.Scope, alert.ScopeId);
}
