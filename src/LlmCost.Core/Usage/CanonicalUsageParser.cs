using System.Text.Json;
using LlmCost.Core.Pricing;

namespace LlmCost.Core.Usage;

/// <summary>
/// Reads the service's canonical usage object and validates it with <see cref="UsageValidator"/>. The keys are the
/// usage keys of <see cref="UsageUnits"/> (genai-prices' unit registry: <c>input_tokens</c>, <c>cache_read_tokens</c>,
/// <c>input_image_tokens</c>, <c>output_image_tokens</c>, <c>audio_seconds</c>, <c>input_document_pages</c>, ...), plus
/// the alias <c>reasoning_tokens</c> for <c>output_reasoning_tokens</c> and an optional <c>total_tokens</c> check.
/// Every problem is reported, each naming its field (<c>usage.cache_read_tokens</c>).
/// </summary>
public static class CanonicalUsageParser
{
    public const string InputTokens = "input_tokens";
    public const string CacheReadTokens = "cache_read_tokens";
    public const string CacheWriteTokens = "cache_write_tokens";
    public const string CacheWrite1hTokens = "cache_write_1h_tokens";
    public const string InputAudioTokens = "input_audio_tokens";
    public const string CacheAudioReadTokens = "cache_audio_read_tokens";
    public const string OutputTokens = "output_tokens";
    public const string ReasoningTokens = "reasoning_tokens";
    public const string OutputAudioTokens = "output_audio_tokens";
    public const string WebSearches = "web_searches";

    /// <summary>Informational: when given it must equal input_tokens + output_tokens (catches input sent without cache tokens).</summary>
    public const string TotalTokens = "total_tokens";

    /// <summary>Other names accepted for a unit (the service's names from before the full lattice).</summary>
    public static IReadOnlyDictionary<string, string> Aliases { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [ReasoningTokens] = "output_reasoning_tokens",
    };

    /// <summary>The accepted keys: every unit's usage key in registry order, then the aliases and total_tokens.</summary>
    public static IReadOnlyList<string> Keys { get; } = [.. UsageUnits.All.Select(u => u.UsageKey), .. Aliases.Keys, TotalTokens];

    /// <summary>Parses and validates a canonical usage object.</summary>
    /// <param name="element">The JSON value of the usage object.</param>
    /// <param name="strict">When true (the default, and what the service uses) an unknown key is an error: a typo
    /// such as <c>cache_reads</c> would otherwise be silently priced as zero. When false unknown keys are ignored.</param>
    /// <param name="fieldPrefix">Prefix of field names in errors (the path of this object in the request).</param>
    public static UsageParseResult Parse(JsonElement element, bool strict = true, string fieldPrefix = "usage")
    {
        ArgumentNullException.ThrowIfNull(fieldPrefix);
        if (element.ValueKind != JsonValueKind.Object)
        {
            return UsageParseResult.Failure(fieldPrefix,
                $"must be a JSON object, got {UsageCounts.Describe(element.ValueKind)}", UsageShape.Canonical);
        }

        var errors = new List<FieldError>();
        var seen = new Dictionary<int, string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var builder = new CanonicalUsage.Builder();
        long? total = null;
        foreach (JsonProperty property in element.EnumerateObject())
        {
            string field = $"{fieldPrefix}.{property.Name}";
            if (!names.Add(property.Name))
            {
                // System.Text.Json keeps both; which one "wins" would be an accident, so refuse.
                errors.Add(new FieldError(field, "appears more than once"));
                continue;
            }

            if (property.Name == TotalTokens)
            {
                if (UsageCounts.TryRead(property.Value, field, errors, out long count))
                {
                    total = count;
                }

                continue;
            }

            string key = Aliases.TryGetValue(property.Name, out string? canonical) ? canonical : property.Name;
            if (!UsageUnits.TryGetByUsageKey(key, out UsageUnit unit))
            {
                if (strict)
                {
                    errors.Add(new FieldError(field, UnknownKeyMessage(property.Name)));
                }

                continue;
            }

            if (seen.TryGetValue(unit.Index, out string? first))
            {
                errors.Add(new FieldError(field, $"is the same class as {first}: give it once"));
                continue;
            }

            seen[unit.Index] = property.Name;
            if (UsageCounts.TryRead(property.Value, field, errors, out long value))
            {
                if (unit.Index == UsageUnits.Requests && value < 1)
                {
                    errors.Add(new FieldError(field, $"must be at least 1, got {value}"));
                    continue;
                }

                builder.Set(unit, value);
            }
        }

        if (errors.Count > 0)
        {
            return UsageParseResult.Failure(errors, UsageShape.Canonical);
        }

        CanonicalUsage usage = builder.Build();
        IReadOnlyList<FieldError> problems = UsageValidator.Validate(usage, fieldPrefix, seen);
        if (problems.Count > 0)
        {
            return UsageParseResult.Failure(problems, UsageShape.Canonical);
        }

        if (total is { } stated && stated != usage.TotalTokens)
        {
            return UsageParseResult.Failure($"{fieldPrefix}.{TotalTokens}",
                $"is {stated} but input_tokens + output_tokens is {usage.TotalTokens}: in canonical usage input_tokens includes " +
                "cache reads and writes and output_tokens includes reasoning (raw_usage takes a provider's own convention)",
                UsageShape.Canonical);
        }

        return UsageParseResult.Success(usage, UsageShape.Canonical);
    }

    /// <summary>Parses a canonical usage object from JSON text; malformed JSON is an error naming the prefix.</summary>
    public static UsageParseResult Parse(string json, bool strict = true, string fieldPrefix = "usage")
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var document = JsonDocument.Parse(json);
            return Parse(document.RootElement, strict, fieldPrefix);
        }
        catch (JsonException ex)
        {
            return UsageParseResult.Failure(fieldPrefix, $"is not valid JSON: {ex.Message}", UsageShape.Canonical);
        }
    }

    /// <summary>Writes the non-zero units of <paramref name="usage"/> as canonical keys (the inverse of <see cref="Parse(JsonElement, bool, string)"/>).</summary>
    public static void Write(Utf8JsonWriter json, CanonicalUsage usage, bool includeRequests = false)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(usage);
        foreach ((UsageUnit unit, long count) in usage.Units)
        {
            if (unit.Index != UsageUnits.Requests || (includeRequests && count != 1))
            {
                json.WriteNumber(unit.UsageKey, count);
            }
        }
    }

    private static string UnknownKeyMessage(string name)
    {
        string? suggestion = Keys
            .Select(k => (Key: k, Distance: Distance(name, k)))
            .Where(k => k.Distance <= Math.Max(2, name.Length / 4))
            .OrderBy(k => k.Distance)
            .Select(k => k.Key)
            .FirstOrDefault();
        return suggestion is null
            ? "is not a known usage key (the keys are genai-prices' usage units: input_tokens, cache_read_tokens, output_tokens, input_image_tokens, ... see docs/pricing.md)"
            : $"is not a known usage key (did you mean {suggestion}?)";
    }

    /// <summary>Levenshtein distance, for "did you mean" (keys are short, so the quadratic table is fine).</summary>
    private static int Distance(string a, string b)
    {
        var row = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            row[j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            int previous = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int current = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), previous + (a[i - 1] == b[j - 1] ? 0 : 1));
                previous = current;
            }
        }

        return row[b.Length];
    }
}
