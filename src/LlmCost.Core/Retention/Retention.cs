using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using LlmCost.Core.Rollups;

namespace LlmCost.Core.Retention;

/// <summary>"LlmCost:Retention". Raw events go after <see cref="RawEventDays"/>; rollups stay much longer.</summary>
public sealed record RetentionOptions
{
    public int RawEventDays { get; init; } = 90;

    /// <summary>Hour rollups (the biggest ones) are kept this long; day and month rollups are kept.</summary>
    public int HourRollupDays { get; init; } = 400;

    public void Validate()
    {
        if (RawEventDays < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(RawEventDays), "must be at least 1 day");
        }

        if (HourRollupDays < RawEventDays)
        {
            throw new ArgumentOutOfRangeException(nameof(HourRollupDays), "rollups must outlive raw events");
        }
    }

    /// <summary>Days strictly before this are past retention (a day is kept until ALL of it is older than the limit).</summary>
    public DateOnly RawCutoff(DateTimeOffset now) => DateOnly.FromDateTime(now.UtcDateTime).AddDays(-RawEventDays);

    public DateOnly HourRollupCutoff(DateTimeOffset now) => DateOnly.FromDateTime(now.UtcDateTime).AddDays(-HourRollupDays);
}

/// <summary>Raw-event side of retention and GDPR (implemented by the event store's owner).</summary>
public interface IRawEventMaintenance
{
    /// <summary>(tenant, day) pairs with raw events on days before <paramref name="cutoff"/>.</summary>
    Task<IReadOnlyList<TenantDay>> DaysBeforeAsync(DateOnly cutoff, int max, CancellationToken cancellationToken = default);

    /// <summary>Deletes all raw events (and the day summaries) of one tenant-day; returns how many events.</summary>
    Task<int> DeleteDayAsync(string tenantId, DateOnly day, CancellationToken cancellationToken = default);

    /// <summary>Every event of one user of one tenant, any day.</summary>
    IAsyncEnumerable<UsageFact> ReadUserAsync(string tenantId, string userId, CancellationToken cancellationToken = default);

    /// <summary>Deletes every event and summary of a user of a tenant; returns the tenant-days that changed.</summary>
    Task<IReadOnlyList<TenantDay>> DeleteUserAsync(string tenantId, string userId, CancellationToken cancellationToken = default);
}

/// <summary>Blob side: archives, exports, reports.</summary>
public interface IArchiveStore
{
    Task WriteAsync(string path, byte[] content, string contentType, CancellationToken cancellationToken = default);
    Task<byte[]?> ReadAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>Files whose path starts with <paramref name="prefix"/>, in path order.</summary>
    Task<IReadOnlyList<StoredFile>> ListAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>
    /// A time-limited direct download link (SAS) when the account can sign one (account key, or a user-delegation key
    /// with a managed identity); null when it cannot, and the API then proxies the download itself.
    /// </summary>
    Task<Uri?> TryGetDownloadUriAsync(string path, TimeSpan validFor, CancellationToken cancellationToken = default);
}

public sealed record StoredFile(string Path, long Size, string? ContentType, DateTimeOffset? LastModified);

public sealed record AuditEntry(string Action, string SubjectId, string Actor, DateTimeOffset At, IReadOnlyDictionary<string, string> Details);

public interface IAuditLog
{
    Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default);
    Task<IReadOnlyList<AuditEntry>> ListAsync(string subjectId, CancellationToken cancellationToken = default);
}

/// <summary>
/// The archive format: gzip-compressed JSON lines, one event per line, snake_case, cost as a decimal string.
/// Deterministic for the same events in the same order (gzip header has no timestamp from .NET).
/// </summary>
public static class EventArchive
{
    public static string PathFor(string safeTenant, DateOnly day) =>
        string.Create(CultureInfo.InvariantCulture, $"archive/{safeTenant}/{day:yyyy}/{day:MM}/{day:dd}.jsonl.gz");

    public static byte[] Write(IEnumerable<UsageFact> facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            foreach (var fact in facts)
            {
                gzip.Write(Line(fact));
                gzip.WriteByte((byte)'\n');
            }
        }

        return buffer.ToArray();
    }

    public static IReadOnlyList<UsageFact> Read(byte[] archive)
    {
        ArgumentNullException.ThrowIfNull(archive);
        using var gzip = new GZipStream(new MemoryStream(archive), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        var facts = new List<UsageFact>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            using var doc = JsonDocument.Parse(line);
            var e = doc.RootElement;
            facts.Add(new UsageFact
            {
                EventId = e.GetProperty("event_id").GetString()!,
                TenantId = e.GetProperty("tenant_id").GetString()!,
                TeamId = e.GetProperty("team_id").GetString(),
                UserId = e.GetProperty("user_id").GetString()!,
                Provider = e.GetProperty("provider").GetString()!,
                Model = e.GetProperty("model").GetString()!,
                Timestamp = e.GetProperty("timestamp").GetDateTimeOffset(),
                CostUsd = decimal.Parse(e.GetProperty("cost_usd").GetString()!, CultureInfo.InvariantCulture),
                InputTokens = e.GetProperty("input_tokens").GetInt64(),
                OutputTokens = e.GetProperty("output_tokens").GetInt64(),
                Priced = e.GetProperty("priced").GetBoolean(),
                Succeeded = e.GetProperty("succeeded").GetBoolean(),
                // Archives written before the full unit lattice have neither.
                Units = e.TryGetProperty("units", out var units) ? ReadUnits(units) : Usage.CanonicalUsage.None,
                ReportedCostUsd = e.TryGetProperty("reported_cost_usd", out var reported) && reported.ValueKind == JsonValueKind.String
                    ? decimal.Parse(reported.GetString()!, NumberStyles.Number, CultureInfo.InvariantCulture)
                    : null,
            });
        }

        return facts;
    }

    private static Usage.CanonicalUsage ReadUnits(JsonElement units)
    {
        var builder = new Usage.CanonicalUsage.Builder();
        builder.Set("requests", 0);
        foreach (var unit in units.EnumerateObject())
        {
            // A unit a later version added is skipped, never misread.
            if (Pricing.UsageUnits.TryGetByUsageKey(unit.Name, out var known) && unit.Value.TryGetInt64(out var count))
            {
                builder.Set(known, count);
            }
        }

        return builder.Build();
    }

    public static byte[] Line(UsageFact fact)
    {
        ArgumentNullException.ThrowIfNull(fact);
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("event_id", fact.EventId);
            json.WriteString("tenant_id", fact.TenantId);
            json.WriteString("team_id", fact.TeamId);
            json.WriteString("user_id", fact.UserId);
            json.WriteString("provider", fact.Provider);
            json.WriteString("model", fact.Model);
            json.WriteString("timestamp", fact.Timestamp.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
            json.WriteString("cost_usd", fact.CostUsd.ToString(CultureInfo.InvariantCulture));
            json.WriteNumber("input_tokens", fact.InputTokens);
            json.WriteNumber("output_tokens", fact.OutputTokens);
            json.WriteBoolean("priced", fact.Priced);
            json.WriteBoolean("succeeded", fact.Succeeded);
            json.WriteStartObject("units");
            Usage.CanonicalUsageParser.Write(json, fact.Units);
            json.WriteEndObject();
            if (fact.ReportedCostUsd is { } reportedCost)
            {
                json.WriteString("reported_cost_usd", reportedCost.ToString(CultureInfo.InvariantCulture));
            }

            json.WriteEndObject();
        }

        return stream.ToArray();
    }
}

public sealed record RetentionRunResult(int DaysArchived, int EventsDeleted, int HourRollupsDeleted = 0);

/// <summary>
/// Archive-then-delete, one tenant-day at a time: the archive blob is written (deterministic, so rewriting it after
/// a crash is harmless) and only then are the rows deleted. Rollups outlive raw events: hour rollups are pruned after
/// <see cref="RetentionOptions.HourRollupDays"/>, day and month rollups are kept.
/// </summary>
public sealed class RetentionRunner(
    IRawEventMaintenance events, IUsageFactSource facts, IArchiveStore archive, Func<string, string> safeName,
    RetentionOptions options, TimeProvider timeProvider, IRollupStore? rollups = null)
{
    public async Task<RetentionRunResult> RunAsync(int maxDays = 200, CancellationToken cancellationToken = default)
    {
        var cutoff = options.RawCutoff(timeProvider.GetUtcNow());
        var days = await events.DaysBeforeAsync(cutoff, maxDays, cancellationToken).ConfigureAwait(false);
        var deleted = 0;
        foreach (var (tenantId, day) in days)
        {
            var rows = new List<UsageFact>();
            await foreach (var fact in facts.ReadDayAsync(tenantId, day, cancellationToken).ConfigureAwait(false))
            {
                rows.Add(fact);
            }

            rows.Sort((a, b) => string.CompareOrdinal(a.EventId, b.EventId));
            await archive.WriteAsync(EventArchive.PathFor(safeName(tenantId), day), EventArchive.Write(rows), "application/gzip", cancellationToken)
                .ConfigureAwait(false);
            deleted += await events.DeleteDayAsync(tenantId, day, cancellationToken).ConfigureAwait(false);
        }

        // Hour rollups are the bulk of the rollups; day and month rows are small and kept.
        var hourRows = 0;
        if (rollups is not null)
        {
            var hourCutoff = RollupPeriods.StartOfDay(options.HourRollupCutoff(timeProvider.GetUtcNow()));
            foreach (var tenantId in await rollups.ListTenantsAsync(cancellationToken).ConfigureAwait(false))
            {
                hourRows += await rollups.PruneAsync(tenantId, RollupGranularity.Hour, hourCutoff, cancellationToken).ConfigureAwait(false);
            }
        }

        return new RetentionRunResult(days.Count, deleted, hourRows);
    }
}
