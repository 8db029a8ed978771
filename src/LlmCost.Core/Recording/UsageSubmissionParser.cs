using System.Globalization;
using System.Text.Json;
using LlmCost.Core.Usage;

namespace LlmCost.Core.Recording;

/// <summary>
/// Reads one submitted event (a JSON object) into a <see cref="UsageSubmission"/>, collecting every problem with
/// the field that has it. Nothing is clamped or guessed: wrong type, negative or overflowing count, subset larger
/// than its total, a forbidden key character, a timestamp too far in the future — each is an error.
/// </summary>
public static class UsageSubmissionParser
{
    public static IReadOnlyList<string> KnownFields { get; } =
    [
        "event_id", "tenant_id", "user_id", "team_id", "app", "provider", "model", "timestamp", "usage", "raw_usage",
        "latency_ms", "status", "tags", "reservation_id", "reported_cost_usd", "key_id",
    ];

    /// <summary>A reported cost above this (USD, one call) is a unit mistake (cents, micro-dollars), not a cost.</summary>
    public const decimal MaxReportedCostUsd = 1_000_000m;

    /// <param name="prefix">Path of this event in the request ("" or "events[3].").</param>
    /// <param name="requireUser">False for pricing only (POST /api/price), where no user is involved.</param>
    public static UsageSubmission? Parse(
        JsonElement element, string prefix, RecordingLimits limits, DateTimeOffset now, List<FieldError> errors, bool requireUser = true)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(errors);
        if (element.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new FieldError(Trim(prefix), $"must be a JSON object, got {Describe(element.ValueKind)}"));
            return null;
        }

        int before = errors.Count;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (JsonProperty property in element.EnumerateObject())
        {
            if (!seen.Add(property.Name))
            {
                errors.Add(new FieldError(prefix + property.Name, "appears more than once"));
            }
            else if (limits.Strict && !KnownFields.Contains(property.Name))
            {
                errors.Add(new FieldError(prefix + property.Name, "is not a known field (strict mode)"));
            }
        }

        string? eventId = Id(element, prefix, "event_id", required: false, errors, RecordKeys.EventIdProblem);
        string? tenantId = Id(element, prefix, "tenant_id", required: false, errors, RecordKeys.Problem);
        string? userId = Id(element, prefix, "user_id", required: requireUser, errors, RecordKeys.Problem);
        string? teamId = Id(element, prefix, "team_id", required: false, errors, RecordKeys.Problem);
        string? reservationId = Id(element, prefix, "reservation_id", required: false, errors, RecordKeys.Problem);
        string? keyId = Id(element, prefix, "key_id", required: false, errors, RecordKeys.Problem);
        string? app = Text(element, prefix, "app", limits.MaxAppLength, required: false, errors);
        string? provider = Text(element, prefix, "provider", limits.MaxProviderLength, required: false, errors);
        string? model = Text(element, prefix, "model", limits.MaxModelLength, required: true, errors);
        DateTimeOffset? timestamp = Timestamp(element, prefix, limits, now, errors);
        long? latency = Latency(element, prefix, errors);
        string status = Status(element, prefix, errors);
        IReadOnlyDictionary<string, string> tags = Tags(element, prefix, limits, errors);
        UsageParseResult? usageResult = Usage(element, prefix, provider, errors);
        CanonicalUsage? usage = usageResult?.IsValid == true ? usageResult.Usage : null;
        decimal? reportedCost = ReportedCost(element, prefix, errors) ?? usageResult?.ReportedCostUsd;

        if (errors.Count > before || (requireUser && userId is null) || model is null || usage is null)
        {
            return null;
        }

        return new UsageSubmission
        {
            EventId = eventId,
            TenantId = tenantId,
            UserId = userId ?? string.Empty,
            TeamId = teamId,
            App = app,
            Provider = provider,
            Model = model,
            Timestamp = timestamp,
            Usage = usage,
            LatencyMs = latency,
            Status = status,
            Tags = tags,
            ReservationId = reservationId,
            ReportedCostUsd = reportedCost,
            KeyId = keyId,
        };
    }

    /// <remarks>
    /// Canonical usage always rejects an unknown key, whatever the strict mode: a typo (<c>cache_reads</c>) would
    /// otherwise price as 0. Provider-native <c>raw_usage</c> ignores (and counts) fields it does not know.
    /// </remarks>
    private static UsageParseResult? Usage(JsonElement element, string prefix, string? provider, List<FieldError> errors)
    {
        bool hasUsage = element.TryGetProperty("usage", out JsonElement usage) && usage.ValueKind != JsonValueKind.Null;
        bool hasRaw = element.TryGetProperty("raw_usage", out JsonElement raw) && raw.ValueKind != JsonValueKind.Null;
        if (hasUsage == hasRaw)
        {
            errors.Add(new FieldError(prefix + "usage", hasUsage
                ? "give either usage (canonical) or raw_usage (provider-native), not both"
                : "is required (or raw_usage, the provider's own usage object)"));
            return null;
        }

        UsageParseResult result = hasUsage
            ? CanonicalUsageParser.Parse(usage, strict: true, prefix + "usage")
            : UsageNormalizer.Normalize(provider, raw, prefix + "raw_usage");
        errors.AddRange(result.Errors);

        return result;
    }

    /// <summary><c>reported_cost_usd</c>: a decimal string ("0.0123") or a JSON number, 0..<see cref="MaxReportedCostUsd"/>.</summary>
    private static decimal? ReportedCost(JsonElement element, string prefix, List<FieldError> errors)
    {
        const string name = "reported_cost_usd";
        if (!element.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        decimal cost;
        switch (value.ValueKind)
        {
            case JsonValueKind.Number when value.TryGetDecimal(out decimal number):
                cost = number;
                break;
            case JsonValueKind.String when decimal.TryParse(value.GetString(), NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out decimal parsed):
                cost = parsed;
                break;
            default:
                errors.Add(new FieldError(prefix + name, "must be a decimal string such as \"0.0123\" or a number (USD)"));
                return null;
        }

        if (cost < 0 || cost > MaxReportedCostUsd)
        {
            errors.Add(new FieldError(prefix + name, $"must be between 0 and {MaxReportedCostUsd} USD, got {cost.ToString(CultureInfo.InvariantCulture)}"));
            return null;
        }

        return cost;
    }

    private static string? Id(
        JsonElement element, string prefix, string name, bool required, List<FieldError> errors, Func<string?, string?> rule)
    {
        string? value = Text(element, prefix, name, RecordKeys.MaxIdLength, required, errors);
        if (value is null)
        {
            return null;
        }

        string? problem = rule(value);
        if (problem is not null)
        {
            errors.Add(new FieldError(prefix + name, problem));
            return null;
        }

        return value;
    }

    private static string? Text(JsonElement element, string prefix, string name, int maxLength, bool required, List<FieldError> errors)
    {
        if (!element.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                errors.Add(new FieldError(prefix + name, "is required"));
            }

            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            errors.Add(new FieldError(prefix + name, $"must be a string, got {Describe(value.ValueKind)}"));
            return null;
        }

        string text = value.GetString()!;
        if (text.Length == 0)
        {
            errors.Add(new FieldError(prefix + name, "must not be empty"));
            return null;
        }

        if (text.Length > maxLength)
        {
            errors.Add(new FieldError(prefix + name, $"must be at most {maxLength} characters"));
            return null;
        }

        if (text.Any(char.IsControl))
        {
            errors.Add(new FieldError(prefix + name, "must not contain control characters"));
            return null;
        }

        return text;
    }

    private static DateTimeOffset? Timestamp(JsonElement element, string prefix, RecordingLimits limits, DateTimeOffset now, List<FieldError> errors)
    {
        const string name = "timestamp";
        if (!element.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String
            || !DateTimeOffset.TryParse(value.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out DateTimeOffset parsed)
            || !HasOffset(value.GetString()!))
        {
            errors.Add(new FieldError(prefix + name, "must be an ISO 8601 date-time with an offset, e.g. 2025-03-10T14:05:00Z"));
            return null;
        }

        if (parsed > now + limits.MaxFutureSkew)
        {
            errors.Add(new FieldError(prefix + name, $"is more than {limits.MaxFutureSkew} in the future"));
            return null;
        }

        if (parsed < now - limits.MaxAge)
        {
            errors.Add(new FieldError(prefix + name, $"is more than {limits.MaxAge.TotalDays:0} days in the past"));
            return null;
        }

        return parsed;
    }

    // "2025-03-10T14:05:00" without Z or offset would be read as local time: ambiguous, so refused.
    private static bool HasOffset(string text) =>
        text.EndsWith('Z') || text.EndsWith('z') || (text.Length > 6 && (text[^6] is '+' or '-') && text[^3] == ':');

    private static long? Latency(JsonElement element, string prefix, List<FieldError> errors)
    {
        const string name = "latency_ms";
        if (!element.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out long ms))
        {
            errors.Add(new FieldError(prefix + name, "must be a whole number of milliseconds"));
            return null;
        }

        if (ms < 0 || ms > (long)TimeSpan.FromDays(1).TotalMilliseconds)
        {
            errors.Add(new FieldError(prefix + name, "must be between 0 and 86400000"));
            return null;
        }

        return ms;
    }

    private static string Status(JsonElement element, string prefix, List<FieldError> errors)
    {
        const string name = "status";
        if (!element.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return UsageStatuses.Success;
        }

        if (value.ValueKind != JsonValueKind.String || !UsageStatuses.IsKnown(value.GetString()))
        {
            errors.Add(new FieldError(prefix + name, "must be \"success\" or \"error\""));
            return UsageStatuses.Success;
        }

        return value.GetString()!;
    }

    private static IReadOnlyDictionary<string, string> Tags(JsonElement element, string prefix, RecordingLimits limits, List<FieldError> errors)
    {
        const string name = "tags";
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!element.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return tags;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new FieldError(prefix + name, $"must be an object of string values, got {Describe(value.ValueKind)}"));
            return tags;
        }

        foreach (JsonProperty tag in value.EnumerateObject())
        {
            string field = $"{prefix}{name}.{tag.Name}";
            if (tag.Value.ValueKind != JsonValueKind.String)
            {
                errors.Add(new FieldError(field, $"must be a string, got {Describe(tag.Value.ValueKind)}"));
            }
            else if (tag.Name.Length is 0 || tag.Name.Length > limits.MaxTagKeyLength || tag.Name.Any(char.IsControl))
            {
                errors.Add(new FieldError(field, $"tag names must be 1-{limits.MaxTagKeyLength} characters without control characters"));
            }
            else if (tag.Value.GetString()!.Length > limits.MaxTagValueLength)
            {
                errors.Add(new FieldError(field, $"must be at most {limits.MaxTagValueLength} characters"));
            }
            else if (!tags.TryAdd(tag.Name, tag.Value.GetString()!))
            {
                errors.Add(new FieldError(field, "appears more than once"));
            }
        }

        if (tags.Count > limits.MaxTags)
        {
            errors.Add(new FieldError(prefix + name, $"at most {limits.MaxTags} tags"));
        }

        return tags;
    }

    private static string Trim(string prefix) => prefix.Length == 0 ? "body" : prefix.TrimEnd('.');

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };
}
