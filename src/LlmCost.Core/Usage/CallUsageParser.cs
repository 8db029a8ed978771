using System.Globalization;
using System.Text.Json;
using LlmCost.Core.Pricing;

namespace LlmCost.Core.Usage;

/// <summary>The outcome of reading one call: a price request, or every problem with it (each naming its field).</summary>
public sealed record CallParseResult(PriceRequest? Request, IReadOnlyList<FieldError> Errors, UsageShape? Shape)
{
    /// <summary>The cost the provider reported: the call's <c>reported_cost_usd</c>, else one read from <c>raw_usage</c>.</summary>
    public decimal? ReportedCostUsd { get; init; }

    /// <summary>Provider fields ignored because this version does not know them (see <see cref="UsageParseResult.IgnoredFields"/>).</summary>
    public IReadOnlyList<string> IgnoredFields { get; init; } = [];

    public bool IsValid => Request is not null && Errors.Count == 0;

    public string ErrorSummary => string.Join("; ", Errors.Select(e => e.ToString()));
}

/// <summary>
/// Reads one LLM call as posted by apps and piped to <c>llmcost price</c>:
/// <code>
/// {"provider":"anthropic","model":"claude-sonnet-4-20250514","timestamp":"2026-06-01T12:00:00Z",
///  "usage":{...canonical keys...}}            // or "raw_usage":{...the provider's usage object or response body...}
/// </code>
/// <c>model</c> is required; <c>provider</c> is optional (inferred from the model name); <c>timestamp</c> is an
/// ISO 8601 date-time (a missing one means the caller-supplied default, normally now); exactly one of
/// <c>usage</c> / <c>raw_usage</c> is required; <c>tenant_id</c> is optional. Other keys are ignored, so callers
/// can carry their own ids along.
/// </summary>
public static class CallUsageParser
{
    public static CallParseResult Parse(JsonElement call, DateTimeOffset defaultTimestamp, bool strictUsage = true)
    {
        var errors = new List<FieldError>();
        if (call.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new FieldError("$", $"must be a JSON object, got {UsageCounts.Describe(call.ValueKind)}"));
            return new CallParseResult(null, errors, null);
        }

        string? provider = String(call, "provider", errors);
        string? model = String(call, "model", errors);
        if (model is null && !errors.Any(e => e.Field == "model"))
        {
            errors.Add(new FieldError("model", "is required"));
        }
        else if (model is not null && string.IsNullOrWhiteSpace(model))
        {
            errors.Add(new FieldError("model", "must not be empty"));
        }

        string? tenant = String(call, "tenant_id", errors);
        decimal? reportedCost = ReportedCost(call, errors);
        DateTimeOffset timestamp = defaultTimestamp;
        if (String(call, "timestamp", errors) is { } text)
        {
            // Offsets are honoured; a time without one is taken as UTC (the service's clock is UTC).
            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset parsed))
            {
                timestamp = parsed;
            }
            else
            {
                errors.Add(new FieldError("timestamp", $"is not an ISO 8601 date-time: '{text}'"));
            }
        }

        bool hasUsage = call.TryGetProperty("usage", out JsonElement usage) && usage.ValueKind != JsonValueKind.Null;
        bool hasRaw = call.TryGetProperty("raw_usage", out JsonElement raw) && raw.ValueKind != JsonValueKind.Null;
        UsageParseResult? parsedUsage = null;
        if (hasUsage && hasRaw)
        {
            errors.Add(new FieldError("usage", "give either usage (canonical) or raw_usage (the provider's own), not both"));
        }
        else if (hasUsage)
        {
            parsedUsage = CanonicalUsageParser.Parse(usage, strictUsage, "usage");
        }
        else if (hasRaw)
        {
            parsedUsage = UsageNormalizer.Normalize(provider, raw, "raw_usage");
        }
        else
        {
            errors.Add(new FieldError("usage", "is required (or raw_usage with the provider's usage object)"));
        }

        if (parsedUsage is not null)
        {
            errors.AddRange(parsedUsage.Errors);
        }

        if (errors.Count > 0)
        {
            return new CallParseResult(null, errors, parsedUsage?.Shape);
        }

        return new CallParseResult(
            new PriceRequest(string.IsNullOrWhiteSpace(provider) ? null : provider, model!, timestamp, parsedUsage!.Usage!, tenant),
            errors, parsedUsage.Shape)
        {
            ReportedCostUsd = reportedCost ?? parsedUsage.ReportedCostUsd,
            IgnoredFields = parsedUsage.IgnoredFields,
        };
    }

    private static decimal? ReportedCost(JsonElement call, List<FieldError> errors)
    {
        if (!call.TryGetProperty("reported_cost_usd", out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        decimal? cost = value.ValueKind switch
        {
            JsonValueKind.Number when value.TryGetDecimal(out decimal number) => number,
            JsonValueKind.String when decimal.TryParse(value.GetString(), NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out decimal parsed) => parsed,
            _ => null,
        };
        if (cost is not { } c || c < 0)
        {
            errors.Add(new FieldError("reported_cost_usd", "must be a non-negative decimal string such as \"0.0123\" or a number (USD)"));
            return null;
        }

        return c;
    }

    private static string? String(JsonElement obj, string name, List<FieldError> errors)
    {
        if (!obj.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            errors.Add(new FieldError(name, $"must be a string, got {UsageCounts.Describe(value.ValueKind)}"));
            return null;
        }

        return value.GetString();
    }
}
