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

public sealed record ReportBody(string? TenantId, string? Period, string? Date);

/// <summary>
/// The HTTP surface of the operations module: the in-app alert feed, subscriptions, rules, reports, rollups and GDPR.
/// Thin: parse, check access, call Core, map to TypedResults / problem details.
/// </summary>
public static class OperationsApi
{
    private static readonly TimeSpan DownloadLinkLifetime = TimeSpan.FromMinutes(15);

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

    // ---- alerts feed ----

    private static async Task<IResult> ListAlerts(
        ClaimsPrincipal caller, IAlertStore alerts, string? tenant_id, bool? unread, int? limit, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        if (limit is < 1 or > 500)
        {
            return CallerAccess.FieldProblem("limit", "must be between 1 and 500");
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
            return NotFound("alert", alertId);
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
            return NotFound("alert", alertId);
        }

        await alerts.MarkReadAsync(tenantId, alertId, time.GetUtcNow(), cancellationToken);
        return TypedResults.NoContent();
    }

    // ---- subscriptions ----

    private static async Task<IResult> CreateSubscription(
        ClaimsPrincipal caller, ISubscriptionStore subscriptions, TimeProvider time, IOptions<AlertDeliveryOptions> delivery, SubscriptionBody body,
        CancellationToken cancellationToken)
    {
        var errors = SubscriptionValidator.Validate(new SubscriptionRequest(body.TenantId, body.Channel, body.Url, body.Email, body.Secret, body.Kinds));
        if (!errors.ContainsKey("url") && body.Channel != AlertChannels.Email
            && WebhookTargets.Problem(body.Url, delivery.Value.AllowPrivateNetworkTargets) is { } target)
        {
            errors["url"] = [$"url {target} (LlmCost:Alerts:AllowPrivateNetworkTargets is off)"];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, detail: string.Join("; ", errors.Values.SelectMany(v => v)), title: "Invalid subscription");
        }

        if (!caller.TryResolveTenant(body.TenantId, out var tenantId, out var problem))
        {
            return problem;
        }

        var subscription = new AlertSubscription
        {
            SubscriptionId = "sub_" + Guid.NewGuid().ToString("N"),
            TenantId = tenantId,
            Channel = body.Channel!,
            Url = body.Channel == AlertChannels.Email ? null : body.Url,
            Email = body.Channel == AlertChannels.Email ? body.Email!.Trim() : null,
            Secret = string.IsNullOrEmpty(body.Secret) ? null : body.Secret,
            Kinds = body.Kinds?.Distinct(StringComparer.Ordinal).ToArray() ?? [],
            CreatedAt = time.GetUtcNow(),
        };
        await subscriptions.AddAsync(subscription, cancellationToken);
        return TypedResults.Created($"/api/alerts/subscriptions/{subscription.SubscriptionId}?tenant_id={Uri.EscapeDataString(tenantId)}", SubscriptionJson(subscription, reveal: true));
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
        return TypedResults.Ok(new { subscriptions = list.OrderBy(s => s.CreatedAt).Select(s => SubscriptionJson(s, reveal)) });
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
            : NotFound("subscription", subscriptionId);
    }

    // ---- rules ----

    private static async Task<IResult> CreateRule(ClaimsPrincipal caller, IAlertRuleStore rules, TimeProvider time, RuleBody body, CancellationToken cancellationToken)
    {
        if (ValidateRule(body) is { } invalid)
        {
            return invalid;
        }

        if (!caller.TryResolveTenant(body.TenantId, out var tenantId, out var problem))
        {
            return problem;
        }

        var rule = ToRule("rule_" + Guid.NewGuid().ToString("N"), tenantId, body, time.GetUtcNow());
        await rules.UpsertAsync(rule, cancellationToken);
        return TypedResults.Created($"/api/alerts/rules/{rule.RuleId}?tenant_id={Uri.EscapeDataString(tenantId)}", RuleJson(rule));
    }

    private static async Task<IResult> UpdateRule(
        ClaimsPrincipal caller, IAlertRuleStore rules, string ruleId, RuleBody body, CancellationToken cancellationToken)
    {
        if (ValidateRule(body) is { } invalid)
        {
            return invalid;
        }

        if (!caller.TryResolveTenant(body.TenantId, out var tenantId, out var problem))
        {
            return problem;
        }

        var existing = await rules.GetAsync(tenantId, ruleId, cancellationToken);
        if (existing is null)
        {
            return NotFound("rule", ruleId);
        }

        var rule = ToRule(ruleId, tenantId, body, existing.CreatedAt);
        await rules.UpsertAsync(rule, cancellationToken);
        return TypedResults.Ok(RuleJson(rule));
    }

    private static async Task<IResult> GetRule(ClaimsPrincipal caller, IAlertRuleStore rules, string ruleId, string? tenant_id, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        var rule = await rules.GetAsync(tenantId, ruleId, cancellationToken);
        return rule is null || !caller.MaySee(rule.Scope, rule.ScopeId) ? NotFound("rule", ruleId) : TypedResults.Ok(RuleJson(rule));
    }

    private static async Task<IResult> ListRules(ClaimsPrincipal caller, IAlertRuleStore rules, string? tenant_id, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        var list = await rules.ListAsync(tenantId, cancellationToken);
        return TypedResults.Ok(new { rules = list.Where(r => caller.MaySee(r.Scope, r.ScopeId)).OrderBy(r => r.CreatedAt).Select(RuleJson) });
    }

    private static async Task<IResult> DeleteRule(ClaimsPrincipal caller, IAlertRuleStore rules, string ruleId, string? tenant_id, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        return await rules.DeleteAsync(tenantId, ruleId, cancellationToken) ? TypedResults.NoContent() : NotFound("rule", ruleId);
    }

    // ---- reports ----

    private static async Task<IResult> CreateReport(
        ClaimsPrincipal caller, ReportService reports, IArchiveStore files, HttpContext http, ReportBody body, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (body.Period is not ("day" or "month"))
        {
            errors["period"] = ["period must be \"day\" or \"month\""];
        }

        if (!DateOnly.TryParseExact(body.Date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            errors["date"] = ["date must be a yyyy-MM-dd date"];
        }
        else if (!QueryDates.InRange(date))
        {
            errors["date"] = [$"date {QueryDates.Problem}"];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, detail: string.Join("; ", errors.Values.SelectMany(v => v)), title: "Invalid report request");
        }

        if (!caller.TryResolveTenant(body.TenantId, out var tenantId, out var problem))
        {
            return problem;
        }

        var generated = await reports.GenerateAsync(new ReportRequest(tenantId, body.Period == "day" ? ReportPeriod.Day : ReportPeriod.Month, date), cancellationToken);
        var report = generated.Report;
        var fileList = new List<object>();
        foreach (var (file, path) in report.Files.Zip(generated.Paths))
        {
            fileList.Add(new
            {
                name = file.Name,
                path,
                content_type = file.ContentType,
                size = file.Content.Length,
                download_url = await DownloadUrlAsync(files, http, tenantId, path, cancellationToken),
            });
        }

        return TypedResults.Created($"/api/reports?tenant_id={Uri.EscapeDataString(tenantId)}", new
        {
            tenant_id = tenantId,
            period = body.Period,
            start = report.Request.Start,
            end = report.Request.End,
            as_of = generated.AsOf,
            totals = new
            {
                requests = report.Totals.Requests,
                errors = report.Totals.Errors,
                unpriced_requests = report.Totals.UnpricedRequests,
                input_tokens = report.Totals.InputTokens,
                output_tokens = report.Totals.OutputTokens,
                cost_usd = MoneyFormat.Format(report.Totals.CostUsd),
            },
            files = fileList,
        });
    }

    private static async Task<IResult> ListReports(
        ClaimsPrincipal caller, ReportService reports, IArchiveStore files, HttpContext http, string? tenant_id, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        if (caller.CheckScopeAccess() is { } denied)
        {
            return denied;
        }

        var list = new List<object>();
        foreach (var file in await reports.ListAsync(tenantId, cancellationToken))
        {
            list.Add(new
            {
                path = file.Path,
                size = file.Size,
                content_type = file.ContentType,
                last_modified = file.LastModified,
                download_url = await DownloadUrlAsync(files, http, tenantId, file.Path, cancellationToken),
            });
        }

        return TypedResults.Ok(new { tenant_id = tenantId, reports = list });
    }

    private static async Task<IResult> DownloadReport(
        ClaimsPrincipal caller, IArchiveStore files, ReportService reports, string? tenant_id, string? path, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        if (caller.CheckScopeAccess() is { } denied)
        {
            return denied;
        }

        if (!reports.IsTenantReportPath(tenantId, path))
        {
            return CallerAccess.FieldProblem("path", $"must be a report file path of this tenant (reports/{OperationsStorage.SafeName(tenantId)}/..., no empty or dot segments)");
        }

        var file = path!;
        var content = await files.ReadAsync(file, cancellationToken);
        if (content is null)
        {
            return NotFound("report file", file);
        }

        var type = file.EndsWith(".csv", StringComparison.Ordinal) ? "text/csv; charset=utf-8"
            : file.EndsWith(".svg", StringComparison.Ordinal) ? "image/svg+xml" : "application/json";
        return TypedResults.File(content, type, file[(file.LastIndexOf('/') + 1)..]);
    }

    private static async Task<string> DownloadUrlAsync(IArchiveStore files, HttpContext http, string tenantId, string path, CancellationToken cancellationToken)
    {
        var sas = await files.TryGetDownloadUriAsync(path, DownloadLinkLifetime, cancellationToken);
        if (sas is not null && !IsLocalEmulator(sas))
        {
            return sas.ToString();
        }

        var request = http.Request;
        return $"{request.Scheme}://{request.Host}{request.PathBase}/api/reports/download?tenant_id={Uri.EscapeDataString(tenantId)}&path={Uri.EscapeDataString(path)}";
    }

    /// <summary>Azurite can sign SAS links too, but locally the proxied endpoint is the link a client can always use.</summary>
    private static bool IsLocalEmulator(Uri uri) => uri.IsLoopback;

    // ---- rollups ----

    private static async Task<IResult> GetRollups(
        ClaimsPrincipal caller, IRollupStore rollups, string? tenant_id, string? granularity, string? from, string? to, string? dimension,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        RollupGranularity? g = granularity switch { "hour" => RollupGranularity.Hour, "day" => RollupGranularity.Day, "month" => RollupGranularity.Month, _ => null };
        if (g is null)
        {
            errors["granularity"] = ["granularity must be hour, day or month"];
        }

        if (!DateOnly.TryParseExact(from, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var fromDay))
        {
            errors["from"] = ["from must be a yyyy-MM-dd date"];
        }
        else if (!QueryDates.InRange(fromDay))
        {
            errors["from"] = [$"from {QueryDates.Problem}"];
        }

        if (!DateOnly.TryParseExact(to, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var toDay) || toDay < fromDay)
        {
            errors["to"] = ["to must be a yyyy-MM-dd date, not before from"];
        }
        else if (!QueryDates.InRange(toDay))
        {
            errors["to"] = [$"to {QueryDates.Problem}"];
        }
        else if (g == RollupGranularity.Hour && toDay.DayNumber - fromDay.DayNumber > 31)
        {
            errors["to"] = ["hour rollups: at most 31 days per request"];
        }

        if (dimension is not null && !RollupDimensions.All.Contains(dimension))
        {
            errors["dimension"] = [$"dimension must be one of {string.Join(", ", RollupDimensions.All)}"];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, detail: string.Join("; ", errors.Values.SelectMany(v => v)), title: "Invalid rollup query");
        }

        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        if (caller.CheckScopeAccess() is { } denied)
        {
            return denied;
        }

        var rows = await rollups.ReadAsync(tenantId, g!.Value, RollupPeriods.StartOfDay(fromDay), RollupPeriods.StartOfDay(toDay.AddDays(1)), dimension, cancellationToken);
        return TypedResults.Ok(new
        {
            tenant_id = tenantId,
            granularity,
            rows = rows.OrderBy(r => r.PeriodStart).ThenBy(r => r.Dimension, StringComparer.Ordinal).ThenBy(r => r.Key, StringComparer.Ordinal).Select(r => new
            {
                period_start = r.PeriodStart,
                dimension = r.Dimension,
                key = r.Key,
                requests = r.Requests,
                errors = r.Errors,
                unpriced_requests = r.UnpricedRequests,
                input_tokens = r.InputTokens,
                output_tokens = r.OutputTokens,
                cost_usd = MoneyFormat.Format(r.CostUsd),
            }),
        });
    }

    // ---- GDPR ----

    private static async Task<IResult> ExportUser(ClaimsPrincipal caller, GdprService gdpr, string userId, string? tenant_id, CancellationToken cancellationToken)
    {
        if (RecordKeys.Problem(userId) is { } invalid)
        {
            return CallerAccess.FieldProblem("user_id", invalid);
        }

        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        var file = await gdpr.ExportAsync(tenantId, userId, caller.AuditActor(), cancellationToken);
        return TypedResults.File(file, "application/json", $"{OperationsStorage.SafeName(userId)}-export.json");
    }

    private static async Task<IResult> DeleteUser(ClaimsPrincipal caller, GdprService gdpr, string userId, string? tenant_id, CancellationToken cancellationToken)
    {
        if (RecordKeys.Problem(userId) is { } invalid)
        {
            return CallerAccess.FieldProblem("user_id", invalid);
        }

        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        var deletion = await gdpr.DeleteAsync(tenantId, userId, caller.AuditActor(), cancellationToken);
        return TypedResults.Ok(new
        {
            tenant_id = deletion.TenantId,
            user_id = deletion.UserId,
            deleted_at = deletion.At,
            raw_events_deleted = deletion.RawEventsDeleted,
            tenant_days_changed = deletion.TenantDaysChanged,
            archives_rewritten = deletion.ArchivesRewritten,
            archived_events_removed = deletion.ArchivedEventsRemoved,
            rollup_days_recomputed = deletion.RollupDaysRecomputed,
            reports_rewritten = deletion.ReportsRewritten,
            alerts_deleted = deletion.AlertsDeleted,
            ingest_log_rows_deleted = deletion.IngestLogRowsDeleted,
            held_by_modules = deletion.Holders,
            audit_kept = true,
            audited = true,
        });
    }

    // ---- helpers ----

    private static bool Visible(ClaimsPrincipal caller, AlertEntry entry) => caller.MaySee(entry.Alert.Scope, entry.Alert.ScopeId);

    private static IResult NotFound(string what, string id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"{what} '{id}' does not exist");

    private static IResult? ValidateRule(RuleBody body)
    {
        var errors = new Dictionary<string, string[]>();
        if (body.Kind is null || !SubscriptionValidator.AllKinds.Contains(body.Kind))
        {
            errors["kind"] = [$"kind must be one of {string.Join(", ", SubscriptionValidator.AllKinds.Order(StringComparer.Ordinal))}"];
        }

        if (body.Scope is not (null or "tenant" or "team" or "user" or "key"))
        {
            errors["scope"] = ["scope must be tenant, team, user or key"];
        }

        if (body.ScopeId is not null && body.Scope is null)
        {
            errors["scope_id"] = ["scope_id needs a scope"];
        }

        if (body.CooldownMinutes is < 0 or > 60 * 24 * 31)
        {
            errors["cooldown_minutes"] = ["cooldown_minutes must be between 0 and 44640"];
        }

        return errors.Count == 0 ? null : TypedResults.ValidationProblem(errors, detail: string.Join("; ", errors.Values.SelectMany(v => v)), title: "Invalid rule");
    }

    private static AlertRule ToRule(string ruleId, string tenantId, RuleBody body, DateTimeOffset createdAt) => new()
    {
        RuleId = ruleId,
        TenantId = tenantId,
        Kind = body.Kind!,
        Scope = body.Scope,
        ScopeId = body.ScopeId,
        Enabled = body.Enabled ?? true,
        Cooldown = TimeSpan.FromMinutes(body.CooldownMinutes ?? 60),
        CreatedAt = createdAt,
    };

    private static object RuleJson(AlertRule r) => new
    {
        rule_id = r.RuleId,
        tenant_id = r.TenantId,
        kind = r.Kind,
        scope = r.Scope,
        scope_id = r.ScopeId,
        enabled = r.Enabled,
        cooldown_minutes = (int)r.Cooldown.TotalMinutes,
        created_at = r.CreatedAt,
    };

    private static object SubscriptionJson(AlertSubscription s, bool reveal) => new
    {
        subscription_id = s.SubscriptionId,
        tenant_id = s.TenantId,
        channel = s.Channel,
        url = reveal || s.Url is null ? s.Url : new Uri(s.Url).GetLeftPart(UriPartial.Authority) + "/…",
        email = s.Email,
        kinds = s.Kinds,
        has_secret = s.Secret is not null,
        created_at = s.CreatedAt,
    };

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
