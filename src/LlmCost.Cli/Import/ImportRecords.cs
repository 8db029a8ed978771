using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LlmCost.Client;

namespace LlmCost.Cli.Import;

/// <summary>One candidate event read from the input: an event to send, or the reason it is skipped or rejected here.</summary>
internal sealed record ImportRecord(string Source, UsageEvent? Event, string? Skipped = null, string? Rejected = null)
{
    public static ImportRecord Send(string source, UsageEvent e) => new(source, e);

    public static ImportRecord Skip(string source, string reason) => new(source, null, Skipped: reason);

    public static ImportRecord Reject(string source, string reason) => new(source, null, Rejected: reason);
}

/// <summary>A CSV record by header name (case-insensitive), empty cells read as absent.</summary>
internal sealed class CsvRow(IReadOnlyDictionary<string, string> cells)
{
    public string? this[string name] => cells.TryGetValue(name, out string? value) && value.Length > 0 ? value : null;

    public IEnumerable<KeyValuePair<string, string>> Cells => cells;
}

/// <summary>What every mapping needs: the tenant, the user for rows that name none, the clock, deterministic ids.</summary>
internal sealed class ImportContext(string tenantId, string defaultUser, DateTimeOffset now)
{
    private readonly Dictionary<string, int> _seenContent = new(StringComparer.Ordinal);

    public string TenantId { get; } = tenantId;

    public string DefaultUser { get; } = defaultUser;

    public DateTimeOffset Now { get; } = now;

    /// <summary>
    /// A deterministic event id: the source's own id when the service accepts it as one (so a call imported from a
    /// gateway log and reported live by the middleware, both under the provider's response id, is counted once), else
    /// <c>prefix-</c> and the SHA-256 of the identity parts.
    /// </summary>
    public static string EventId(string prefix, params string?[] identity)
    {
        string joined = string.Join("\u001f", identity.Select(p => p ?? "\u0000"));
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(prefix + "\u001e" + joined));
        return prefix + "-" + Convert.ToHexStringLower(hash.AsSpan(0, 20));
    }

    public static string NaturalOrHashed(string prefix, string? natural) =>
        natural is not null && LlmCostIds.IsValidEventId(natural) ? natural : EventId(prefix, natural);

    /// <summary>
    /// For rows with no id of their own: the content hash, plus the occurrence number when the same content appeared
    /// before in this file (two identical calls are two calls), so a rerun of the same file gives the same ids.
    /// </summary>
    public string ContentId(string prefix, IEnumerable<string?> content)
    {
        string baseId = EventId(prefix, content.ToArray());
        int seen = _seenContent.TryGetValue(baseId, out int n) ? n : 0;
        _seenContent[baseId] = seen + 1;
        return seen == 0 ? baseId : $"{baseId}-{seen.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>An id value from the data, or null when the service would refuse it as an id.</summary>
    public static string? Id(string? value) => value is not null && LlmCostIds.IsValid(value) ? value : null;
}

/// <summary>Lenient readers for values that arrive as JSON numbers, JSON strings or CSV cells.</summary>
internal static class ImportValues
{
    public static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out JsonElement v)
            ? v.ValueKind switch
            {
                JsonValueKind.String => v.GetString() is { Length: > 0 } s ? s : null,
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => v.GetRawText(),
                _ => null,
            }
            : null;

    /// <summary>A non-negative whole number, or null when absent; throws <see cref="FormatException"/> when malformed.</summary>
    public static long? Count(string? text, string field)
    {
        if (text is null)
        {
            return null;
        }

        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value) && value >= 0)
        {
            return value;
        }

        // Exports written by spreadsheets turn 12 into 12.0.
        if (decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out decimal d) && d >= 0 && d == decimal.Truncate(d) && d <= long.MaxValue)
        {
            return (long)d;
        }

        throw new FormatException($"{field} must be a non-negative whole number, got '{text}'");
    }

    public static long? Count(JsonElement element, string name) => Count(Text(element, name), name);

    /// <summary>Unix seconds, or ISO 8601; without an offset the text is read as UTC only when <paramref name="assumeUtc"/>.</summary>
    public static DateTimeOffset? Instant(string? text, string field, bool assumeUtc)
    {
        if (text is null)
        {
            return null;
        }

        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long unix))
        {
            return DateTimeOffset.FromUnixTimeSeconds(unix);
        }

        if (!DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out DateTime read))
        {
            throw new FormatException($"{field} is not a date-time: '{text}'");
        }

        // RoundtripKind tells whether the text carried a zone (Utc/Local) or none (Unspecified: ambiguous).
        if (read.Kind == DateTimeKind.Unspecified && !assumeUtc)
        {
            throw new FormatException($"{field} must be unix seconds or an ISO 8601 date-time with an offset, got '{text}'");
        }

        if (read.Kind == DateTimeKind.Unspecified)
        {
            return new DateTimeOffset(read, TimeSpan.Zero);
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out DateTimeOffset parsed))
        {
            return parsed.ToUniversalTime();
        }

        throw new FormatException($"{field} is not a date-time: '{text}'");
    }

    public static void Put(Dictionary<string, long> usage, string key, long? value)
    {
        if (value is { } v)
        {
            usage[key] = v;
        }
    }

    /// <summary>Makes parts never exceed their wholes the service's way (inclusive totals), adding parts that an
    /// export counted outside their total.</summary>
    public static Dictionary<string, long> Inclusive(Dictionary<string, long> usage)
    {
        long input = usage.GetValueOrDefault(UsageKeys.InputTokens);
        long parts = usage.GetValueOrDefault(UsageKeys.CacheReadTokens) + usage.GetValueOrDefault(UsageKeys.CacheWriteTokens);
        if (parts > input)
        {
            usage[UsageKeys.InputTokens] = input + parts;
        }

        long output = usage.GetValueOrDefault(UsageKeys.OutputTokens);
        long outParts = usage.GetValueOrDefault(UsageKeys.ReasoningTokens) + usage.GetValueOrDefault(UsageKeys.OutputAudioTokens);
        if (outParts > output)
        {
            usage[UsageKeys.OutputTokens] = output + outParts;
        }

        return usage;
    }
}
