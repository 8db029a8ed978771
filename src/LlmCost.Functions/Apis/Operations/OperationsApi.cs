using System.Globalization;
using System.Security.Claims;
using LlmCost.Core.Alerts;
using LlmCost.Core.Recording;
using LlmCost.Core.Reports;
using LlmCost.Core.Retention;
using LlmCost.Core.Rollups;
using LlmCost.Functions.Hosting;
using LlmCost.Functions.Hosting.Auth;
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
        api.MapGet("/alerts", ListAlerts).WithName("ListAlerts").RequireAuthorization(LlmCostAuth.ReaderPolicy);
        api.MapGet("/alerts/subscriptions", ListSubscriptions).WithName("ListAlertSubscriptions").RequireAuthorization(LlmCostAuth.ReaderPolicy);
        api.MapPost("/alerts/subscriptions", CreateSubscription).WithName("CreateAlertSubscription").RequireAuthorization(LlmCostAuth.AdminPolicy);
        api.MapDelete("/alerts/subscriptions/{subscriptionId}", DeleteSubscription).WithName("DeleteAlertSubscription").RequireAuthorization(LlmCostAuth.AdminPolicy);
        api.MapGet("/alerts/rules", ListRules).WithName("ListAlertRules").RequireAuthorization(LlmCostAuth.ReaderPolicy);
        api.MapPost("/alerts/rules", CreateRule).WithName("CreateAlertRule").RequireAuthorization(LlmCostAuth.AdminPolicy);
        api.MapGet("/alerts/rules/{ruleId}", GetRule).WithName("GetAlertRule").RequireAuthorization(LlmCostAuth.ReaderPolicy);
        api.MapPut("/alerts/rules/{ruleId}", UpdateRule).WithName("UpdateAlertRule").RequireAuthorization(LlmCostAuth.AdminPolicy);
        api.MapDelete("/alerts/rules/{ruleId}", DeleteRule).WithName("DeleteAlertRule").RequireAuthorization(LlmCostAuth.AdminPolicy);
        api.MapGet("/alerts/{alertId}", GetAlert).WithName("GetAlert").RequireAuthorization(LlmCostAuth.ReaderPolicy);
        api.MapPost("/alerts/{alertId}/read", MarkRead).WithName("MarkAlertRead").RequireAuthorization(LlmCostAuth.ReaderPolicy);
        api.MapPost("/reports", CreateReport).WithName("CreateReport").RequireAuthorization(LlmCostAuth.AdminPolicy);
        api.MapGet("/reports", ListReports).WithName("ListReports").RequireAuthorization(LlmCostAuth.ReaderPolicy);
        api.MapGet("/reports/download", DownloadReport).WithName("DownloadReport").RequireAuthorization(LlmCostAuth.ReaderPolicy);
        api.MapGet("/rollups", GetRollups).WithName("GetRollups").RequireAuthorization(LlmCostAuth.ReaderPolicy);
        api.MapGet("/users/{userId}/export", ExportUser).WithName("ExportUserData").RequireAuthorization(LlmCostAuth.AdminPolicy);
        api.MapDelete("/users/{userId}", DeleteUser).WithName("DeleteUserData").RequireAuthorization(LlmCostAuth.AdminPolicy);
        endpoints.MapAuditApi();
        return endpoints;
    }
}
