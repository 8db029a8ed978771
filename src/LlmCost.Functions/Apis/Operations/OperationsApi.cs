using LlmCost.Core.Alerts;
using LlmCost.Core.Recording;
using LlmCost.Core.Reports;
using LlmCost.Core.Retention;
using LlmCost.Core.Rollups;
using LlmCost.Storage.Operations;
using Microsoft.Extensions.Options;
using LlmCost.Core;

namespace LlmCost.Functions.Apis.Operations;

public sealed record SubscriptionBody(string? TenantId, string? Channel, string? Url, string? Email, string? Secret, IReadOnlyList<string>? Kinds);

public sealed record RuleBody(string? TenantId, string? Kind, string? Scope, string? ScopeId, bool? Enabled, int? CooldownMinutes);

/// <param name="Currency">Costs also in this currency (ISO 4217, a configured dated rate); absent = USD only.</param>
public sealed record ReportBody(string? TenantId, string? Period, string? Date, string? Currency = null);

/// <summary>
/// The HTTP surface of the operations module: the in-app alert feed, subscriptions, rules, reports, rollups and GDPR,
/// one file per area (OperationsApi.*.cs). Thin: bind, check access, one Core use case, map to TypedResults / problem
/// details (<see cref="ApiProblems"/>).
/// </summary>
public static partial class OperationsApi
{
    public static IEndpointRouteBuilder MapOperationsApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api");
        var alerts = api.MapGroup("/alerts").WithTags("Alerts");
        alerts.MapGet("/", ListAlerts).WithName("ListAlerts").RequireAuthorization(LlmCostAuth.ReaderPolicy)
            .Produces<AlertFeedResponse>()
            .WithSummary("The tenant's in-app alert feed, newest first (unread=true for unread only; limit 1-500, default 100).");
        alerts.MapGet("/subscriptions", ListSubscriptions).WithName("ListAlertSubscriptions").RequireAuthorization(LlmCostAuth.ReaderPolicy)
            .Produces<SubscriptionListResponse>()
            .WithSummary("Where the tenant's alerts are delivered (webhook, Slack and Teams URLs whole for admin keys only).");
        alerts.MapPost("/subscriptions", CreateSubscription).WithName("CreateAlertSubscription").RequireAuthorization(LlmCostAuth.AdminPolicy)
            .Produces<SubscriptionResponse>(StatusCodes.Status201Created)
            .WithSummary("Delivers the tenant's alerts (all, or the listed kinds) to a webhook (HMAC-signed with secret), Slack, Teams or e-mail.");
        alerts.MapDelete("/subscriptions/{subscriptionId}", DeleteSubscription).WithName("DeleteAlertSubscription").RequireAuthorization(LlmCostAuth.AdminPolicy)
            .Produces(StatusCodes.Status204NoContent)
            .WithSummary("Stops delivering to this subscription.");
        alerts.MapGet("/rules", ListRules).WithName("ListAlertRules").RequireAuthorization(LlmCostAuth.ReaderPolicy)
            .Produces<RuleListResponse>()
            .WithSummary("The tenant's alert rules (kind, scope, enabled, cooldown), oldest first.");
        alerts.MapPost("/rules", CreateRule).WithName("CreateAlertRule").RequireAuthorization(LlmCostAuth.AdminPolicy)
            .Produces<RuleResponse>(StatusCodes.Status201Created)
            .WithSummary("Adds a rule: which kind of alert, for which scope (or every scope), enabled or not, how long its cooldown is.");
        alerts.MapGet("/rules/{ruleId}", GetRule).WithName("GetAlertRule").RequireAuthorization(LlmCostAuth.ReaderPolicy)
            .Produces<RuleResponse>()
            .WithSummary("One alert rule.");
        alerts.MapPut("/rules/{ruleId}", UpdateRule).WithName("UpdateAlertRule").RequireAuthorization(LlmCostAuth.AdminPolicy)
            .Produces<RuleResponse>()
            .WithSummary("Replaces an alert rule's kind, scope, enabled flag and cooldown.");
        alerts.MapDelete("/rules/{ruleId}", DeleteRule).WithName("DeleteAlertRule").RequireAuthorization(LlmCostAuth.AdminPolicy)
            .Produces(StatusCodes.Status204NoContent)
            .WithSummary("Deletes an alert rule.");
        alerts.MapGet("/{alertId}", GetAlert).WithName("GetAlert").RequireAuthorization(LlmCostAuth.ReaderPolicy)
            .Produces<AlertFeedEntryResponse>()
            .WithSummary("One alert of the feed with its delivery to each subscription.");
        alerts.MapPost("/{alertId}/read", MarkRead).WithName("MarkAlertRead").RequireAuthorization(LlmCostAuth.ReaderPolicy)
            .Produces(StatusCodes.Status204NoContent)
            .WithSummary("Marks an alert read: it leaves the unread feed.");

        var reports = api.MapGroup("/reports").WithTags("Reports");
        reports.MapPost("/", CreateReport).WithName("CreateReport").RequireAuthorization(LlmCostAuth.AdminPolicy)
            .Produces<ReportResponse>(StatusCodes.Status201Created)
            .WithSummary("Writes a day's or month's report (CSV, JSON, SVG chart) from the rollups to blob storage and links each file.");
        reports.MapGet("/", ListReports).WithName("ListReports").RequireAuthorization(LlmCostAuth.ReaderPolicy)
            .Produces<ReportListResponse>()
            .WithSummary("Every report file of the tenant with a download link.");
        reports.MapGet("/download", DownloadReport).WithName("DownloadReport").RequireAuthorization(LlmCostAuth.ReaderPolicy)
            .Produces<Stream>(StatusCodes.Status200OK, "text/csv", "image/svg+xml", "application/json")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("One report file of the tenant (path as listed), as CSV, SVG or JSON.");

        api.MapGet("/rollups", GetRollups).WithName("GetRollups").RequireAuthorization(LlmCostAuth.ReaderPolicy).WithTags("Rollups")
            .Produces<RollupsResponse>()
            .WithSummary("Hour, day or month totals of the tenant by tenant, team, user, provider or model for [from, to] (UTC days).");

        api.MapGet("/users/{userId}/export", ExportUser).WithName("ExportUserData").RequireAuthorization(LlmCostAuth.AdminPolicy).WithTags("GDPR")
            .Produces<UserDataExport>(StatusCodes.Status200OK, "application/json")
            .WithSummary("GDPR export: a JSON file with everything held about the user in the tenant (events, alerts, audit lines, each module's records).");
        api.MapDelete("/users/{userId}", DeleteUser).WithName("DeleteUserData").RequireAuthorization(LlmCostAuth.AdminPolicy).WithTags("GDPR")
            .Produces<UserDeletionResponse>()
            .WithSummary("GDPR erasure: removes every copy of the user's data in the tenant (the audit lines are kept and the erasure audited).");
        endpoints.MapAuditApi();
        return endpoints;
    }
}
