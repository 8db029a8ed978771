// Long on purpose: retention's options, the archive format and the runner are one contract (what is archived is exactly what
// is then deleted, and an archive is never overwritten with less); split by type, that contract would be harder to see.
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using LlmCost.Core.Recording;
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

    /// <summary>Every raw event (all fields) of one tenant whose timestamp falls on <paramref name="day"/> (UTC).</summary>
    IAsyncEnumerable<UsageEvent> ReadDayEventsAsync(string tenantId, DateOnly day, CancellationToken cancellationToken = default);

    /// <summary>Deletes all raw events (and the day summaries) of one tenant-day; returns how many events.</summary>
    Task<int> DeleteDayAsync(string tenantId, DateOnly day, CancellationToken cancellationToken = default);

    /// <summary>Every raw event (all fields) of one user of one tenant, any day.</summary>
    IAsyncEnumerable<UsageEvent> ReadUserAsync(string tenantId, string userId, CancellationToken cancellationToken = default);

    /// <summary>Deletes every event and summary of a user of a tenant; returns the tenant-days that changed.</summary>
    Task<IReadOnlyList<TenantDay>> DeleteUserAsync(string tenantId, string userId, CancellationToken cancellationToken = default);
}

/// <summary>A stored file's content with the version a conditional write must present.</summary>
public sealed record VersionedFile(byte[] Content, string Version);

/// <summary>Blob side: archives, exports, reports.</summary>
public interface IArchiveStore
{
    Task WriteAsync(string path, byte[] content, string contentType, CancellationToken cancellationToken = default);
    Task<byte[]?> ReadAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>The file and its version, or null when it does not exist.</summary>
    Task<VersionedFile?> ReadVersionedAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes only if the file is still at <paramref name="expectedVersion"/> (null: only if it does not exist yet);
    /// false when someone else wrote it meanwhile (re-read and decide again).
    /// </summary>
    Task<bool> TryWriteAsync(string path, byte[] content, string contentType, string? expectedVersion, CancellationToken cancellationToken = default);

    /// <summary>Files whose path starts with <paramref name="prefix"/>, in path order.</summary>
    Task<IReadOnlyList<StoredFile>> ListAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>
    /// A time-limited direct download link (SAS) when the account can sign one (account key, or a user-delegation key
    /// with a managed identity); null when it cannot, and the API then proxies the download itself.
    /// </summary>
    Task<Uri?> TryGetDownloadUriAsync(string path, TimeSpan validFor, CancellationToken cancellationToken = default);
}

public sealed record StoredFile(string Path, long Size, string? ContentType, DateTimeOffset? LastModified);

/// <summary>Blob paths are built from escaped ids; these checks keep any path inside the prefix it was checked against.</summary>
public static class FilePaths
{
    /// <summary>
    /// True when <paramref name="path"/> is a plain relative path under <paramref name="prefix"/> (which ends with
    /// '/'): every segment non-empty, no "." or ".." (or any dot-only) segment that URL normalisation would collapse,
    /// no backslash (some clients treat it as '/'), no control characters or lone surrogates, no query or fragment marks. ('%' is
    /// fine: escaped ids contain it, and the storage client sends it as %25, never decoded twice.)
    /// </summary>
    public static bool IsSafeUnder(string? path, string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        if (string.IsNullOrEmpty(path) || !path.StartsWith(prefix, StringComparison.Ordinal) || path.Length == prefix.Length)
        {
            return false;
        }

        return IsSafe(path);
    }

    /// <summary>Every segment of <paramref name="path"/> is a safe, non-collapsing path segment.</summary>
    public static bool IsSafe(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        foreach (var segment in path.Split('/'))
        {
            if (segment.Length == 0 || segment.AsSpan().IndexOfAnyExcept('.') < 0)
            {
                return false;
            }

            for (var i = 0; i < segment.Length; i++)
            {
                var c = segment[i];
                if (c is '\\' or '?' or '#' || char.IsControl(c))
                {
                    return false;
                }

                // A character outside the BMP (a surrogate pair) is a fine name; a lone surrogate has no UTF-8 form.
                if (char.IsHighSurrogate(c) && i + 1 < segment.Length && char.IsLowSurrogate(segment[i + 1]))
                {
                    i++;
                }
                else if (char.IsSurrogate(c))
                {
                    return false;
                }
            }
        }

        return true;
    }
}

/// <summary>One archived event: its id and user (to merge and to erase by) and its JSON line as written.</summary>
public sealed record ArchiveLine(string EventId, string UserId, string Json);

/// <summary>
/// The archive format: gzip-compressed JSON lines, one event per line, snake_case, every field of the event (usage
/// classes, tags, app, latency, reservation, price source...), cost as a decimal string; <c>input_tokens</c>,
/// <c>output_tokens</c> and <c>succeeded</c> are also at the top level, as the first archives wrote them, so every
/// archive reads back as facts. Deterministic for the same lines in the same order.
/// </summary>
public static class EventArchive
{
    public static string PathFor(string safeTenant, DateOnly day) =>
        string.Create(CultureInfo.InvariantCulture, $"archive/{safeTenant}/{day:yyyy}/{day:MM}/{day:dd}.jsonl.gz");

    public static byte[] Write(IEnumerable<UsageFact> facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        return WriteLines(facts.Select(f => Encoding.UTF8.GetString(Line(f))));
    }

    /// <summary>Lines sorted by event id (then text), so the same set of events always gives the same bytes.</summary>
    public static byte[] WriteLines(IEnumerable<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            foreach (var line in lines)
            {
                gzip.Write(Encoding.UTF8.GetBytes(line));
                gzip.WriteByte((byte)'\n');
            }
        }

        return buffer.ToArray();
    }

    public static IReadOnlyList<UsageFact> Read(byte[] archive) => [.. ReadLines(archive).Select(l => ToFact(l.Json))];

    public static IReadOnlyList<ArchiveLine> ReadLines(byte[] archive)
    {
        ArgumentNullException.ThrowIfNull(archive);
        using var gzip = new GZipStream(new MemoryStream(archive), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        var lines = new List<ArchiveLine>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            using var doc = JsonDocument.Parse(line);
            lines.Add(new ArchiveLine(doc.RootElement.GetProperty("event_id").GetString()!, doc.RootElement.GetProperty("user_id").GetString()!, line));
        }

        return lines;
    }

    /// <summary>The union of <paramref name="existing"/> and <paramref name="added"/> by event id (what was archived first wins), in archive order.</summary>
    public static IReadOnlyList<ArchiveLine> Merge(IEnumerable<ArchiveLine> existing, IEnumerable<ArchiveLine> added)
    {
        var merged = new Dictionary<string, ArchiveLine>(StringComparer.Ordinal);
        foreach (var line in existing.Concat(added))
        {
            merged.TryAdd(line.EventId, line);
        }

        return [.. merged.Values.OrderBy(l => l.EventId, StringComparer.Ordinal).ThenBy(l => l.Json, StringComparer.Ordinal)];
    }

    public static UsageFact ToFact(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var e = doc.RootElement;
        return new UsageFact
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
            // Fact lines carry "units", event lines every unit in "usage"; archives written before the full unit
            // lattice have only the historic usage keys (or none).
            Units = e.TryGetProperty("units", out var units) ? ReadUnits(units)
                : e.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object ? ReadUnits(usage)
                : Usage.CanonicalUsage.None,
            ReportedCostUsd = e.TryGetProperty("reported_cost_usd", out var reported) && reported.ValueKind == JsonValueKind.String
                ? decimal.Parse(reported.GetString()!, NumberStyles.Number, CultureInfo.InvariantCulture)
                : null,
        };
    }

    private static Usage.CanonicalUsage ReadUnits(JsonElement units)
    {
        var builder = new Usage.CanonicalUsage.Builder();
        builder.Set("requests", 0);
        foreach (var unit in units.EnumerateObject())
        {
            // A unit a later version added is skipped, never misread; historic aliases (reasoning_tokens) are mapped.
            var key = Usage.CanonicalUsageParser.Aliases.TryGetValue(unit.Name, out var canonical) ? canonical : unit.Name;
            if (Pricing.UsageUnits.TryGetByUsageKey(key, out var known) && unit.Value.TryGetInt64(out var count))
            {
                builder.Set(known, count);
            }
        }

        return builder.Build();
    }

    public static byte[] Line(UsageFact fact)
    {
        ArgumentNullException.ThrowIfNull(fact);
        return JsonBytes.Object(json =>
        {
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
        });
    }

    /// <summary>The unit keys of the historic usage fields an event line always writes (reasoning_tokens is their alias).</summary>
    private static readonly HashSet<string> HistoricUsageKeys = new(StringComparer.Ordinal)
    {
        "input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens", "input_audio_tokens",
        "cache_audio_read_tokens", "output_tokens", "output_reasoning_tokens", "output_audio_tokens", "web_searches",
    };

    /// <summary>The archive (and export) line of a recorded event: every field it was stored with.</summary>
    public static ArchiveLine Line(UsageEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        byte[] line = JsonBytes.Object(json =>
        {
            json.WriteString("event_id", e.EventId);
            json.WriteString("tenant_id", e.TenantId);
            json.WriteString("team_id", e.TeamId);
            json.WriteString("user_id", e.UserId);
            json.WriteString("app", e.App);
            json.WriteString("provider", e.Provider);
            json.WriteString("model", e.Model);
            json.WriteString("timestamp", e.Timestamp.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
            json.WriteString("status", e.Status);
            if (e.LatencyMs is { } latency)
            {
                json.WriteNumber("latency_ms", latency);
            }
            else
            {
                json.WriteNull("latency_ms");
            }

            json.WriteStartObject("usage");
            json.WriteNumber("input_tokens", e.Usage.InputTokens);
            json.WriteNumber("cache_read_tokens", e.Usage.CacheReadTokens);
            json.WriteNumber("cache_write_tokens", e.Usage.CacheWriteTokens);
            json.WriteNumber("cache_write_1h_tokens", e.Usage.CacheWrite1hTokens);
            json.WriteNumber("input_audio_tokens", e.Usage.InputAudioTokens);
            json.WriteNumber("cache_audio_read_tokens", e.Usage.CacheAudioReadTokens);
            json.WriteNumber("output_tokens", e.Usage.OutputTokens);
            json.WriteNumber("reasoning_tokens", e.Usage.ReasoningTokens);
            json.WriteNumber("output_audio_tokens", e.Usage.OutputAudioTokens);
            json.WriteNumber("web_searches", e.Usage.WebSearches);
            foreach (var (unit, count) in e.Usage.Units)
            {
                // Every other unit of the lattice (image, video, document pages, ...): nothing held is left out.
                if (!HistoricUsageKeys.Contains(unit.UsageKey) && (unit.Index != Pricing.UsageUnits.Requests || count != 1))
                {
                    json.WriteNumber(unit.UsageKey, count);
                }
            }

            json.WriteEndObject();
            json.WriteStartObject("tags");
            foreach (var (key, value) in e.Tags.OrderBy(t => t.Key, StringComparer.Ordinal))
            {
                json.WriteString(key, value);
            }

            json.WriteEndObject();
            json.WriteString("cost_usd", e.CostUsd.ToString(CultureInfo.InvariantCulture));
            json.WriteBoolean("priced", e.Priced);
            json.WriteString("unpriced_reason", e.UnpricedReason);
            json.WriteString("priced_provider", e.PricedProvider);
            json.WriteString("priced_model", e.PricedModel);
            json.WriteString("price_source", e.PriceSource);
            json.WriteString("reservation_id", e.ReservationId);
            if (e.ReportedCostUsd is { } reportedCost)
            {
                json.WriteString("reported_cost_usd", reportedCost.ToString(CultureInfo.InvariantCulture));
            }

            json.WriteString("recorded_at", e.RecordedAt.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
            json.WriteNumber("input_tokens", e.Usage.InputTokens);
            json.WriteNumber("output_tokens", e.Usage.OutputTokens);
            json.WriteBoolean("succeeded", e.Succeeded);
        });
        return new ArchiveLine(e.EventId, e.UserId, Encoding.UTF8.GetString(line));
    }
}

public sealed record RetentionRunResult(int DaysArchived, int EventsDeleted, int HourRollupsDeleted = 0);

/// <summary>
/// Archive-then-delete, one tenant-day at a time. A day's archive is never overwritten with less: the raw events
/// are merged into whatever the archive already holds (a late event for an archived day comes back to raw storage
/// and is merged on the next run), the write is conditional on the version read (two runs cannot lose each other's
/// lines), and only then are the raw rows deleted. Rollups outlive raw events: hour rollups are pruned after
/// <see cref="RetentionOptions.HourRollupDays"/>, day and month rollups are kept.
/// </summary>
public sealed class RetentionRunner(
    IRawEventMaintenance events, IArchiveStore archive, Func<string, string> safeName,
    RetentionOptions options, TimeProvider timeProvider, IRollupStore? rollups = null)
{
    private const int MaxWriteAttempts = 5;

    public async Task<RetentionRunResult> RunAsync(int maxDays = 200, CancellationToken cancellationToken = default)
    {
        var cutoff = options.RawCutoff(timeProvider.GetUtcNow());
        var days = await events.DaysBeforeAsync(cutoff, maxDays, cancellationToken).ConfigureAwait(false);
        var deleted = 0;
        foreach (var (tenantId, day) in days)
        {
            var raw = new List<ArchiveLine>();
            await foreach (var e in events.ReadDayEventsAsync(tenantId, day, cancellationToken).ConfigureAwait(false))
            {
                raw.Add(EventArchive.Line(e));
            }

            await MergeIntoArchiveAsync(tenantId, day, raw, cancellationToken).ConfigureAwait(false);
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

    private async Task MergeIntoArchiveAsync(string tenantId, DateOnly day, IReadOnlyList<ArchiveLine> raw, CancellationToken cancellationToken)
    {
        var path = EventArchive.PathFor(safeName(tenantId), day);
        for (var attempt = 1; ; attempt++)
        {
            var existing = await archive.ReadVersionedAsync(path, cancellationToken).ConfigureAwait(false);
            var merged = EventArchive.Merge(existing is null ? [] : EventArchive.ReadLines(existing.Content), raw);
            if (existing is not null && merged.Count == EventArchive.ReadLines(existing.Content).Count)
            {
                return; // everything raw is already archived (a rerun after a crash): nothing to write
            }

            if (await archive.TryWriteAsync(path, EventArchive.WriteLines(merged.Select(l => l.Json)), "application/gzip", existing?.Version, cancellationToken)
                .ConfigureAwait(false))
            {
                return;
            }

            if (attempt >= MaxWriteAttempts)
            {
                throw new InvalidOperationException($"archive {path} kept changing while being merged");
            }
        }
    }
}

/// <summary>
/// The facts of a day are its raw events AND its archive: once a day is archived its raw rows are gone, and a late
/// event brings back raw rows for only part of the day. Reading both (by event id, so an event in both counts once)
/// means rollups, reports and GDPR recomputations of an archived day are never made from partial raw data.
/// </summary>
public sealed class ArchiveAwareFactSource(IUsageFactSource raw, IArchiveStore archive, Func<string, string> safeName) : IUsageFactSource
{
    public async IAsyncEnumerable<UsageFact> ReadDayAsync(string tenantId, DateOnly day, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var archived = await archive.ReadAsync(EventArchive.PathFor(safeName(tenantId), day), cancellationToken).ConfigureAwait(false);
        if (archived is not null)
        {
            foreach (var fact in EventArchive.Read(archived))
            {
                if (seen.Add(fact.EventId))
                {
                    yield return fact;
                }
            }
        }

        await foreach (var fact in raw.ReadDayAsync(tenantId, day, cancellationToken).ConfigureAwait(false))
        {
            if (seen.Add(fact.EventId))
            {
                yield return fact;
            }
        }
    }

    public Task<IReadOnlyCollection<TenantDay>> DaysTouchedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken = default) =>
        raw.DaysTouchedSinceAsync(since, cancellationToken);
}
