using System.Text.Json;
using LlmCost.Core;
using LlmCost.Core.Alerts;
using LlmCost.Core.Retention;
using LlmCost.Core.Rollups;
using LlmCost.Functions.Apis.Budgets;

namespace LlmCost.Functions.Apis.Operations;

/// <summary>
/// An alert as the in-app feed shows it: the alert itself (the same record the budgets module lists as pending) plus
/// where it stands in the feed and, when read one at a time, its deliveries.
/// </summary>
public sealed record AlertFeedEntryResponse : AlertResponse
{
    private AlertFeedEntryResponse(AlertResponse alert)
        : base(alert)
    {
    }

    public static AlertFeedEntryResponse From(AlertEntry entry, IReadOnlyList<DeliveryRecord>? deliveries) => new(BudgetEndpoints.ToResponse(entry.Alert))
    {
        Status = entry.Status,
        StatusReason = entry.StatusReason,
        Read = entry.ReadAt is not null,
        ReadAt = entry.ReadAt,
        Deliveries = deliveries?.Select(d => new AlertDeliveryResponse(d.SubscriptionId, d.Status, d.Attempts, d.LastError, d.UpdatedAt)).ToList(),
    };

    /// <summary>pending, delivered, failed or suppressed (with <see cref="StatusReason"/>).</summary>
    public required string Status { get; init; }

    public string? StatusReason { get; init; }

    public bool Read { get; init; }

    public DateTimeOffset? ReadAt { get; init; }

    /// <summary>One per subscription it went to (null in lists; read one alert to see them).</summary>
    public IReadOnlyList<AlertDeliveryResponse>? Deliveries { get; init; }
}

public sealed record AlertDeliveryResponse(string SubscriptionId, string Status, int Attempts, string? LastError, DateTimeOffset UpdatedAt);

public sealed record AlertFeedResponse(IReadOnlyList<AlertFeedEntryResponse> Alerts);

/// <param name="Url">Whole for admin keys only: Slack and Teams webhook URLs are bearer secrets, so other keys see the host.</param>
/// <param name="HasSecret">Whether webhook bodies are signed (the secret itself is never returned).</param>
public sealed record SubscriptionResponse(
    string SubscriptionId, string TenantId, string Channel, string? Url, string? Email, IReadOnlyList<string> Kinds, bool HasSecret, DateTimeOffset CreatedAt)
{
    public static SubscriptionResponse From(AlertSubscription s, bool reveal) => new(
        s.SubscriptionId, s.TenantId, s.Channel, reveal || s.Url is null ? s.Url : new Uri(s.Url).GetLeftPart(UriPartial.Authority) + "/…",
        s.Email, s.Kinds, s.Secret is not null, s.CreatedAt);
}

public sealed record SubscriptionListResponse(IReadOnlyList<SubscriptionResponse> Subscriptions);

/// <param name="Scope">null: every scope.</param>
public sealed record RuleResponse(
    string RuleId, string TenantId, string Kind, string? Scope, string? ScopeId, bool Enabled, int CooldownMinutes, DateTimeOffset CreatedAt)
{
    public static RuleResponse From(AlertRule r) =>
        new(r.RuleId, r.TenantId, r.Kind, r.Scope, r.ScopeId, r.Enabled, (int)r.Cooldown.TotalMinutes, r.CreatedAt);
}

public sealed record RuleListResponse(IReadOnlyList<RuleResponse> Rules);

/// <summary>The figures of a rollup row or of a report's period (money as a decimal string).</summary>
/// <param name="Cost">The cost in the report's currency (null when the report is in USD only).</param>
public sealed record RollupTotalsResponse(long Requests, long Errors, long UnpricedRequests, long InputTokens, long OutputTokens, string CostUsd, string? Cost);

/// <param name="DownloadUrl">A short-lived signed blob link, or (locally) <c>/api/reports/download</c>.</param>
public sealed record ReportFileResponse(string Name, string Path, string ContentType, int Size, string DownloadUrl);

/// <param name="AsOf">The rollups the report was built from were complete up to this instant.</param>
/// <param name="Currency">The currency asked for and the dated rate used (null when the report is in USD only).</param>
public sealed record ReportResponse(
    string TenantId, string Period, DateTimeOffset Start, DateTimeOffset End, DateTimeOffset AsOf, Pricing.CurrencyQuery.CurrencyWire? Currency,
    RollupTotalsResponse Totals, IReadOnlyList<ReportFileResponse> Files);

public sealed record StoredReportResponse(string Path, long Size, string? ContentType, DateTimeOffset? LastModified, string DownloadUrl);

public sealed record ReportListResponse(string TenantId, IReadOnlyList<StoredReportResponse> Reports);

/// <param name="Dimension">tenant, team, user, provider or model.</param>
/// <param name="Key">The tenant, team, user, provider or model the row adds up.</param>
public sealed record RollupRowResponse(
    DateTimeOffset PeriodStart, string Dimension, string Key, long Requests, long Errors, long UnpricedRequests, long InputTokens, long OutputTokens,
    string CostUsd)
{
    public static RollupRowResponse From(RollupRow r) =>
        new(r.PeriodStart, r.Dimension, r.Key, r.Requests, r.Errors, r.UnpricedRequests, r.InputTokens, r.OutputTokens, MoneyFormat.Format(r.CostUsd));
}

public sealed record RollupsResponse(string TenantId, string Granularity, IReadOnlyList<RollupRowResponse> Rows);

/// <summary>What an erasure removed, copy by copy; the audit lines are always kept (and the erasure audited).</summary>
/// <param name="HeldByModules">Records each other module forgot (budgets, api_keys, ...).</param>
/// <param name="IngestLogRowsDeleted">null when the ingest log is not kept by this deployment.</param>
public sealed record UserDeletionResponse(
    string TenantId, string UserId, DateTimeOffset DeletedAt, int RawEventsDeleted, int TenantDaysChanged, int ArchivesRewritten,
    int ArchivedEventsRemoved, int RollupDaysRecomputed, int ReportsRewritten, int AlertsDeleted, int? IngestLogRowsDeleted,
    IReadOnlyDictionary<string, int> HeldByModules, bool AuditKept, bool Audited)
{
    public static UserDeletionResponse From(GdprDeletion d) => new(
        d.TenantId, d.UserId, d.At, d.RawEventsDeleted, d.TenantDaysChanged, d.ArchivesRewritten, d.ArchivedEventsRemoved,
        d.RollupDaysRecomputed, d.ReportsRewritten, d.AlertsDeleted, d.IngestLogRowsDeleted, d.Holders, AuditKept: true, Audited: true);
}

/// <summary>
/// The GDPR export file (<c>GET /api/users/{userId}/export</c>, an attachment). Core writes it; this record documents
/// its shape, it does not produce it. Besides these fields the file has one section per module that holds data about
/// users (budgets, api_keys, ...).
/// </summary>
/// <param name="Events">Every recorded event of the user, raw or archived, with every stored field and <c>stored_as</c>.</param>
public sealed record UserDataExport(
    string TenantId, string UserId, DateTimeOffset ExportedAt, int EventCount, string CostUsd, IReadOnlyList<IReadOnlyDictionary<string, JsonElement>> Events,
    IReadOnlyList<ExportedAlert> Alerts, IReadOnlyList<ExportedAuditLine> Audit);

public sealed record ExportedAlert(
    string AlertId, string Kind, DateTimeOffset CreatedAt, string? Message, string? BudgetId, IReadOnlyDictionary<string, string> Details, string Status,
    DateTimeOffset? ReadAt);

public sealed record ExportedAuditLine(
    string AuditId, DateTimeOffset At, string Actor, string Action, string TargetType, string TargetId, IReadOnlyDictionary<string, string> Details);
