using System.Globalization;
using System.Text.Json;
using LlmCost.Core.Alerts;
using LlmCost.Core.Rollups;

namespace LlmCost.Core.Retention;

public sealed record GdprDeletion(string TenantId, string UserId, int TenantDaysChanged, int AlertsDeleted, DateTimeOffset At);

/// <summary>
/// GDPR export and erasure of one user. Erasure order: raw events and summaries (the source of truth) first, then
/// the user's alerts, then every derived rollup of the touched days is recomputed from what is left (so no user row
/// survives in a rollup and tenant totals stay equal to their sources), then the audit entry. Each step is
/// idempotent, so a retried request finishes the job.
/// </summary>
public sealed class GdprService(
    IRawEventMaintenance events, IAlertStore alerts, RollupRunner rollups, IAuditLog audit, TimeProvider timeProvider)
{
    /// <summary>A JSON document with every event of the user (any tenant), events in time order.</summary>
    public async Task<byte[]> ExportAsync(string tenantId, string userId, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        var rows = new List<UsageFact>();
        await foreach (var fact in events.ReadUserAsync(tenantId, userId, cancellationToken).ConfigureAwait(false))
        {
            rows.Add(fact);
        }

        rows.Sort((a, b) => a.Timestamp != b.Timestamp ? a.Timestamp.CompareTo(b.Timestamp) : string.CompareOrdinal(a.EventId, b.EventId));
        var now = timeProvider.GetUtcNow();
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("tenant_id", tenantId);
            json.WriteString("user_id", userId);
            json.WriteString("exported_at", now.ToString("O", CultureInfo.InvariantCulture));
            json.WriteNumber("event_count", rows.Count);
            json.WriteString("cost_usd", rows.Sum(r => r.CostUsd).ToString(CultureInfo.InvariantCulture));
            json.WriteStartArray("events");
            foreach (var row in rows)
            {
                json.WriteRawValue(EventArchive.Line(row), skipInputValidation: true);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        await audit.AppendAsync(new AuditEntry("gdpr_export", userId, actor, now, new Dictionary<string, string>
        {
            ["tenant_id"] = tenantId,
            ["events"] = rows.Count.ToString(CultureInfo.InvariantCulture),
        }), cancellationToken).ConfigureAwait(false);
        return stream.ToArray();
    }

    public async Task<GdprDeletion> DeleteAsync(string tenantId, string userId, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        var days = await events.DeleteUserAsync(tenantId, userId, cancellationToken).ConfigureAwait(false);
        var alertCount = await alerts.DeleteForUserAsync(tenantId, userId, cancellationToken).ConfigureAwait(false);
        var months = new HashSet<(string, DateTimeOffset)>();
        foreach (var (dayTenant, day) in days.Distinct())
        {
            await rollups.RecomputeDayAsync(dayTenant, day, cancellationToken).ConfigureAwait(false);
            months.Add((dayTenant, RollupPeriods.StartOf(RollupGranularity.Month, RollupPeriods.StartOfDay(day))));
        }

        foreach (var (monthTenant, month) in months)
        {
            await rollups.RecomputeMonthAsync(monthTenant, month, cancellationToken).ConfigureAwait(false);
        }

        var now = timeProvider.GetUtcNow();
        await audit.AppendAsync(new AuditEntry("gdpr_delete", userId, actor, now, new Dictionary<string, string>
        {
            ["tenant_id"] = tenantId,
            ["tenant_days"] = days.Count.ToString(CultureInfo.InvariantCulture),
            ["alerts"] = alertCount.ToString(CultureInfo.InvariantCulture),
        }), cancellationToken).ConfigureAwait(false);
        return new GdprDeletion(tenantId, userId, days.Count, alertCount, now);
    }
}
