using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmCost.Core.Alerts;
using LlmCost.Core.Audit;
using LlmCost.Core.Recording;
using LlmCost.Core.Reports;
using LlmCost.Core.Rollups;

namespace LlmCost.Core.Retention;

/// <summary>
/// A module that holds data about users outside the usage events (budget states and reservations, API keys bound
/// to a user, ...). GDPR export asks every holder for its part; erasure asks every holder to forget the user.
/// </summary>
public interface IUserDataHolder
{
    /// <summary>The section name in the export and in the erasure answer ("budgets", "api_keys", ...).</summary>
    string Name { get; }

    /// <summary>Everything held about the user, as JSON (null when nothing).</summary>
    Task<JsonNode?> ExportAsync(string tenantId, string userId, CancellationToken cancellationToken = default);

    /// <summary>Removes (or rewrites without the user) everything held about the user; returns how many records changed.</summary>
    Task<int> EraseAsync(string tenantId, string userId, CancellationToken cancellationToken = default);
}

/// <summary>What an erasure did, copy by copy.</summary>
public sealed record GdprDeletion(
    string TenantId,
    string UserId,
    DateTimeOffset At,
    int RawEventsDeleted,
    int TenantDaysChanged,
    int ArchivesRewritten,
    int ArchivedEventsRemoved,
    int RollupDaysRecomputed,
    int ReportsRewritten,
    int AlertsDeleted,
    int? IngestLogRowsDeleted,
    IReadOnlyDictionary<string, int> Holders);

/// <summary>
/// GDPR export and erasure of one user of one tenant: every copy of their data. Raw events (with every field), the
/// events already archived to blob, rollups (recomputed from what is left, so no user row survives and tenant totals
/// stay equal to their sources), report files already written (rewritten), alerts about them, the ingest log's rows,
/// and whatever other modules hold (<see cref="IUserDataHolder"/>: budget state, keys bound to the user). Audit lines
/// are kept (the log of who did what must outlive the data, including the erasure itself) and exported.
/// Every step is idempotent, so a retried request finishes the job.
/// </summary>
public sealed class GdprService(
    IRawEventMaintenance events,
    IArchiveStore archive,
    Func<string, string> safeName,
    IRollupStore rollupStore,
    RollupRunner rollups,
    ReportService reports,
    IAlertStore alerts,
    AuditTrail audit,
    IEnumerable<IUserDataHolder> holders,
    TimeProvider timeProvider,
    IUsageIngestMaintenance? ingestLog = null)
{
    /// <summary>Days before this hold no recorded event (the service accepts events up to 400 days old).</summary>
    private static readonly DateTimeOffset Epoch = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>A JSON document with everything held about the user in the tenant.</summary>
    public async Task<byte[]> ExportAsync(string tenantId, string userId, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        var lines = new Dictionary<string, (string Json, string Source)>(StringComparer.Ordinal);
        await foreach (var e in events.ReadUserAsync(tenantId, userId, cancellationToken).ConfigureAwait(false))
        {
            lines[e.EventId] = (EventArchive.Line(e).Json, "raw");
        }

        foreach (var (_, _, userLines, _) in await ArchivedDaysAsync(tenantId, userId, cancellationToken).ConfigureAwait(false))
        {
            foreach (var line in userLines)
            {
                lines.TryAdd(line.EventId, (line.Json, "archive"));
            }
        }

        var ordered = lines.Values.Select(l => (Node: JsonNode.Parse(l.Json)!.AsObject(), l.Source))
            .OrderBy(l => l.Node["timestamp"]!.GetValue<string>(), StringComparer.Ordinal)
            .ThenBy(l => l.Node["event_id"]!.GetValue<string>(), StringComparer.Ordinal)
            .ToList();
        var now = timeProvider.GetUtcNow();
        var document = new JsonObject
        {
            ["tenant_id"] = tenantId,
            ["user_id"] = userId,
            ["exported_at"] = now.ToString("O", CultureInfo.InvariantCulture),
            ["event_count"] = ordered.Count,
            ["cost_usd"] = ordered.Sum(l => decimal.Parse(l.Node["cost_usd"]!.GetValue<string>(), CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture),
        };
        var eventArray = new JsonArray();
        foreach (var (node, source) in ordered)
        {
            node["stored_as"] = source;
            eventArray.Add(node);
        }

        document["events"] = eventArray;
        var alertArray = new JsonArray();
        foreach (var entry in (await alerts.ListAsync(tenantId, unreadOnly: false, max: 10_000, cancellationToken).ConfigureAwait(false))
            .Where(a => a.Alert.Scope == "user" && a.Alert.ScopeId == userId))
        {
            alertArray.Add(JsonSerializer.SerializeToNode(new
            {
                alert_id = entry.Alert.AlertId,
                kind = entry.Alert.Kind,
                created_at = entry.Alert.CreatedAt,
                message = entry.Alert.Message,
                budget_id = entry.Alert.BudgetId,
                details = entry.Alert.Details,
                status = entry.Status,
                read_at = entry.ReadAt,
            }));
        }

        document["alerts"] = alertArray;
        foreach (var holder in holders)
        {
            document[holder.Name] = await holder.ExportAsync(tenantId, userId, cancellationToken).ConfigureAwait(false);
        }

        await audit.RecordAsync(AuditEntry.Create(tenantId, actor, "gdpr.export", "user", userId, now, new Dictionary<string, string>
        {
            ["events"] = ordered.Count.ToString(CultureInfo.InvariantCulture),
        }, userId), cancellationToken).ConfigureAwait(false);
        // Read after recording the export, so the export lists itself too.
        var auditArray = new JsonArray();
        foreach (var line in (await audit.ListAsync(tenantId, 10_000, cancellationToken).ConfigureAwait(false)).Where(a => a.IsAbout(userId)))
        {
            auditArray.Add(JsonSerializer.SerializeToNode(new
            {
                audit_id = line.AuditId,
                at = line.At,
                actor = line.Actor,
                action = line.Action,
                target_type = line.TargetType,
                target_id = line.TargetId,
                details = line.Details,
            }));
        }

        document["audit"] = auditArray;
        return JsonSerializer.SerializeToUtf8Bytes(document, new JsonSerializerOptions { WriteIndented = true });
    }

    public async Task<GdprDeletion> DeleteAsync(string tenantId, string userId, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        var eventIds = new HashSet<string>(StringComparer.Ordinal);
        var rawEvents = 0;
        await foreach (var e in events.ReadUserAsync(tenantId, userId, cancellationToken).ConfigureAwait(false))
        {
            eventIds.Add(e.EventId);
            rawEvents++;
        }

        var rawDays = await events.DeleteUserAsync(tenantId, userId, cancellationToken).ConfigureAwait(false);
        var changedDays = new HashSet<DateOnly>(rawDays.Where(d => d.TenantId == tenantId).Select(d => d.Day));

        // Archived days: rewritten without the user's lines (the one case an archive may shrink).
        var archivesRewritten = 0;
        var archivedRemoved = 0;
        foreach (var (day, path, userLines, _) in await ArchivedDaysAsync(tenantId, userId, cancellationToken).ConfigureAwait(false))
        {
            eventIds.UnionWith(userLines.Select(l => l.EventId));
            archivedRemoved += await RemoveFromArchiveAsync(path, userId, cancellationToken).ConfigureAwait(false);
            archivesRewritten++;
            changedDays.Add(day);
        }

        int? ingestRows = ingestLog is null
            ? null
            : await ingestLog.DeleteUserAsync(tenantId, userId, cancellationToken).ConfigureAwait(false);
        var alertCount = await alerts.DeleteForUserAsync(tenantId, userId, cancellationToken).ConfigureAwait(false);
        var held = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var holder in holders)
        {
            held[holder.Name] = await holder.EraseAsync(tenantId, userId, cancellationToken).ConfigureAwait(false);
        }

        // Rollups of every changed day (raw and archived, read together), then their months; then the report files.
        var months = new HashSet<DateTimeOffset>();
        foreach (var day in changedDays.Order())
        {
            await rollups.RecomputeDayAsync(tenantId, day, cancellationToken).ConfigureAwait(false);
            months.Add(RollupPeriods.StartOf(RollupGranularity.Month, RollupPeriods.StartOfDay(day)));
        }

        foreach (var month in months)
        {
            await rollups.RecomputeMonthAsync(tenantId, month, cancellationToken).ConfigureAwait(false);
        }

        var rewritten = new HashSet<(ReportPeriod, DateTimeOffset, string?)>();
        foreach (var day in changedDays)
        {
            foreach (var report in await reports.ExistingReportsCoveringAsync(tenantId, day, cancellationToken).ConfigureAwait(false))
            {
                if (rewritten.Add((report.Period, report.Start, report.Currency?.Code)))
                {
                    await reports.GenerateAsync(report, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        var now = timeProvider.GetUtcNow();
        var deletion = new GdprDeletion(tenantId, userId, now, rawEvents, rawDays.Count, archivesRewritten, archivedRemoved, changedDays.Count,
            rewritten.Count, alertCount, ingestRows, held);
        var details = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["raw_events"] = rawEvents.ToString(CultureInfo.InvariantCulture),
            ["archived_events"] = archivedRemoved.ToString(CultureInfo.InvariantCulture),
            ["rollup_days"] = changedDays.Count.ToString(CultureInfo.InvariantCulture),
            ["reports"] = rewritten.Count.ToString(CultureInfo.InvariantCulture),
            ["alerts"] = alertCount.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (name, count) in held)
        {
            details[name] = count.ToString(CultureInfo.InvariantCulture);
        }

        await audit.RecordAsync(AuditEntry.Create(tenantId, actor, "gdpr.delete", "user", userId, now, details, userId), cancellationToken).ConfigureAwait(false);
        return deletion;
    }

    /// <summary>
    /// Archived days holding events of the user. The day rollups name every user with events on a day and outlive
    /// the raw rows, so they say which archives to open without listing every archive of the tenant.
    /// </summary>
    private async Task<List<(DateOnly Day, string Path, IReadOnlyList<ArchiveLine> UserLines, string Version)>> ArchivedDaysAsync(
        string tenantId, string userId, CancellationToken cancellationToken)
    {
        var until = RollupPeriods.StartOfDay(RollupPeriods.DayOf(timeProvider.GetUtcNow()).AddDays(2));
        var days = (await rollupStore.ReadAsync(tenantId, RollupGranularity.Day, Epoch, until, RollupDimensions.User, cancellationToken).ConfigureAwait(false))
            .Where(r => r.Key == userId)
            .Select(r => RollupPeriods.DayOf(r.PeriodStart))
            .Distinct()
            .Order();
        var found = new List<(DateOnly, string, IReadOnlyList<ArchiveLine>, string)>();
        foreach (var day in days)
        {
            var path = EventArchive.PathFor(safeName(tenantId), day);
            if (await archive.ReadVersionedAsync(path, cancellationToken).ConfigureAwait(false) is { } file)
            {
                var userLines = EventArchive.ReadLines(file.Content).Where(l => l.UserId == userId).ToList();
                if (userLines.Count > 0)
                {
                    found.Add((day, path, userLines, file.Version));
                }
            }
        }

        return found;
    }

    private async Task<int> RemoveFromArchiveAsync(string path, string userId, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var file = await archive.ReadVersionedAsync(path, cancellationToken).ConfigureAwait(false);
            if (file is null)
            {
                return 0;
            }

            var lines = EventArchive.ReadLines(file.Content);
            var kept = lines.Where(l => l.UserId != userId).ToList();
            if (kept.Count == lines.Count)
            {
                return 0;
            }

            if (await archive.TryWriteAsync(path, EventArchive.WriteLines(kept.Select(l => l.Json)), "application/gzip", file.Version, cancellationToken).ConfigureAwait(false))
            {
                return lines.Count - kept.Count;
            }

            if (attempt >= 5)
            {
                throw new InvalidOperationException($"archive {path} kept changing during an erasure");
            }
        }
    }
}
