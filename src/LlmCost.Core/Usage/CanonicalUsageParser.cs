using System.Text.Json;

namespace LlmCost.Core.Usage;

/// <summary>
/// Reads the service's canonical usage object (genai-prices' snake_case keys) and validates it with
/// <see cref="UsageValidator"/>. Every problem is reported, each naming its field (<c>usage.cache_read_tokens</c>).
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

    /// <summary>The accepted keys, in the order they are documented.</summary>
    public static IReadOnlyList<string> Keys { get; } =
    [
        InputTokens, CacheReadTokens, CacheWriteTokens, CacheWrite1hTokens, InputAudioTokens,
        CacheAudioReadTokens, OutputTokens, ReasoningTokens, OutputAudioTokens, WebSearches,
    ];

    /// <summary>Parses and validates a canonical usage object.</summary>
    /// <param name="element">The JSON value of the usage object.</param>
    /// <param name="strict">When true an unknown key is an error (a typo such as <c>cache_reads</c> would
    /// otherwise be silently priced as zero); when false unknown keys are ignored.</param>
    /// <param name="fieldPrefix">Prefix of field names in errors (the path of this object in the request).</param>
    public static UsageParseResult Parse(JsonElement element, bool strict = true, string fieldPrefix = "usage")
    {
        ArgumentNullException.ThrowIfNull(fieldPrefix);
        if (element.ValueKind != JsonValueKind.Object)
        {
            return UsageParseResult.Failure(fieldPrefix,
                $"must be a JSON object, got {UsageCounts.Describe(element.ValueKind)}", UsageShape.Canonical);
        }

        var errors = new List<UsageError>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long input = 0, cacheRead = 0, cacheWrite = 0, cacheWrite1h = 0, inputAudio = 0, cacheAudioRead = 0;
        long output = 0, reasoning = 0, outputAudio = 0, webSearches = 0;

        foreach (JsonProperty property in element.EnumerateObject())
        {
            string field = $"{fieldPrefix}.{property.Name}";
            if (!seen.Add(property.Name))
            {
                // System.Text.Json keeps both; which one "wins" would be an accident, so refuse.
                errors.Add(new UsageError(field, "appears more than once"));
                continue;
            }

            switch (property.Name)
            {
                case InputTokens: Read(property.Value, field, errors, ref input); break;
                case CacheReadTokens: Read(property.Value, field, errors, ref cacheRead); break;
                case CacheWriteTokens: Read(property.Value, field, errors, ref cacheWrite); break;
                case CacheWrite1hTokens: Read(property.Value, field, errors, ref cacheWrite1h); break;
                case InputAudioTokens: Read(property.Value, field, errors, ref inputAudio); break;
                case CacheAudioReadTokens: Read(property.Value, field, errors, ref cacheAudioRead); break;
                case OutputTokens: Read(property.Value, field, errors, ref output); break;
                case ReasoningTokens: Read(property.Value, field, errors, ref reasoning); break;
                case OutputAudioTokens: Read(property.Value, field, errors, ref outputAudio); break;
                case WebSearches: Read(property.Value, field, errors, ref webSearches); break;
                default:
                    if (strict)
                    {
                        errors.Add(new UsageError(field,
                            $"is not a known usage key (expected one of: {string.Join(", ", Keys)})"));
                    }

                    break;
            }
        }

        if (errors.Count > 0)
        {
            return UsageParseResult.Failure(errors, UsageShape.Canonical);
        }

        var usage = new CanonicalUsage
        {
            InputTokens = input,
            CacheReadTokens = cacheRead,
            CacheWriteTokens = cacheWrite,
            CacheWrite1hTokens = cacheWrite1h,
            InputAudioTokens = inputAudio,
            CacheAudioReadTokens = cacheAudioRead,
            OutputTokens = output,
            ReasoningTokens = reasoning,
            OutputAudioTokens = outputAudio,
            WebSearches = webSearches,
        };
        return UsageValidator.ToResult(usage, UsageShape.Canonical, fieldPrefix);
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

    private static void Read(JsonElement value, string field, List<UsageError> errors, ref long target)
    {
        if (UsageCounts.TryRead(value, field, errors, out long count))
        {
            target = count;
        }
    }
}
