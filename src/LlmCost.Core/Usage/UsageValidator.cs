namespace LlmCost.Core.Usage;

/// <summary>
/// Checks the ranges and subset rules of <see cref="CanonicalUsage"/> (genai-prices semantics, see
/// shared/pricing/README.md). A usage that breaks them has no meaningful price: the "own" count of some class
/// (e.g. uncached text input = input - cache reads - cache writes - uncached audio) would be negative, and a
/// pricer that clamped it to zero would silently undercharge. So it is rejected, naming the field.
/// </summary>
/// <remarks>
/// Rules (each child is reported under its own field name):
/// <list type="bullet">
/// <item>every count is 0..<see cref="UsageCounts.MaxCount"/>; <c>requests</c> at least 1;</item>
/// <item><c>cache_read_tokens</c>, <c>cache_write_tokens</c>, <c>input_audio_tokens</c> &lt;= <c>input_tokens</c>;</item>
/// <item><c>cache_read_tokens + cache_write_tokens</c> &lt;= <c>input_tokens</c> (a token is read from the cache or
/// written to it, not both);</item>
/// <item><c>cache_write_1h_tokens</c> &lt;= <c>cache_write_tokens</c>;</item>
/// <item><c>cache_audio_read_tokens</c> &lt;= <c>input_audio_tokens</c> and &lt;= <c>cache_read_tokens</c>;</item>
/// <item><c>input_audio_tokens + cache_read_tokens + cache_write_tokens - cache_audio_read_tokens</c> &lt;=
/// <c>input_tokens</c> (the union of audio and cached input fits in the input);</item>
/// <item><c>reasoning_tokens</c> &lt;= <c>output_tokens</c> and <c>output_audio_tokens</c> &lt;= <c>output_tokens</c>
/// (checked separately: reasoning may itself be audio, so their sum is not bounded).</item>
/// </list>
/// </remarks>
public static class UsageValidator
{
    /// <summary>Returns every rule <paramref name="usage"/> breaks; empty when it is valid.</summary>
    /// <param name="fieldPrefix">Prefix of field names in errors, e.g. <c>usage</c> or <c>raw_usage</c>.</param>
    public static IReadOnlyList<UsageError> Validate(CanonicalUsage usage, string fieldPrefix = "usage")
    {
        ArgumentNullException.ThrowIfNull(usage);
        ArgumentNullException.ThrowIfNull(fieldPrefix);
        var errors = new List<UsageError>();
        string F(string key) => $"{fieldPrefix}.{key}";

        Range(usage.InputTokens, F(CanonicalUsageParser.InputTokens), errors);
        Range(usage.CacheReadTokens, F(CanonicalUsageParser.CacheReadTokens), errors);
        Range(usage.CacheWriteTokens, F(CanonicalUsageParser.CacheWriteTokens), errors);
        Range(usage.CacheWrite1hTokens, F(CanonicalUsageParser.CacheWrite1hTokens), errors);
        Range(usage.InputAudioTokens, F(CanonicalUsageParser.InputAudioTokens), errors);
        Range(usage.CacheAudioReadTokens, F(CanonicalUsageParser.CacheAudioReadTokens), errors);
        Range(usage.OutputTokens, F(CanonicalUsageParser.OutputTokens), errors);
        Range(usage.ReasoningTokens, F(CanonicalUsageParser.ReasoningTokens), errors);
        Range(usage.OutputAudioTokens, F(CanonicalUsageParser.OutputAudioTokens), errors);
        Range(usage.WebSearches, F(CanonicalUsageParser.WebSearches), errors);
        if (usage.Requests < 1 || usage.Requests > UsageCounts.MaxCount)
        {
            errors.Add(new UsageError(F("requests"), $"must be at least 1, got {usage.Requests}"));
        }

        if (errors.Count > 0)
        {
            // Subset rules on out-of-range numbers would only repeat the same problem in other words.
            return errors;
        }

        int before = errors.Count;
        Subset(usage.CacheReadTokens, CanonicalUsageParser.CacheReadTokens, usage.InputTokens, CanonicalUsageParser.InputTokens, fieldPrefix, errors);
        Subset(usage.CacheWriteTokens, CanonicalUsageParser.CacheWriteTokens, usage.InputTokens, CanonicalUsageParser.InputTokens, fieldPrefix, errors);
        Subset(usage.InputAudioTokens, CanonicalUsageParser.InputAudioTokens, usage.InputTokens, CanonicalUsageParser.InputTokens, fieldPrefix, errors);
        Subset(usage.CacheWrite1hTokens, CanonicalUsageParser.CacheWrite1hTokens, usage.CacheWriteTokens, CanonicalUsageParser.CacheWriteTokens, fieldPrefix, errors);
        Subset(usage.CacheAudioReadTokens, CanonicalUsageParser.CacheAudioReadTokens, usage.InputAudioTokens, CanonicalUsageParser.InputAudioTokens, fieldPrefix, errors);
        Subset(usage.CacheAudioReadTokens, CanonicalUsageParser.CacheAudioReadTokens, usage.CacheReadTokens, CanonicalUsageParser.CacheReadTokens, fieldPrefix, errors);
        Subset(usage.ReasoningTokens, CanonicalUsageParser.ReasoningTokens, usage.OutputTokens, CanonicalUsageParser.OutputTokens, fieldPrefix, errors);
        Subset(usage.OutputAudioTokens, CanonicalUsageParser.OutputAudioTokens, usage.OutputTokens, CanonicalUsageParser.OutputTokens, fieldPrefix, errors);

        if (errors.Count == before)
        {
            // The pairwise rules hold; now the disjointness rules (sums cannot overflow: each count <= 10^15).
            if (usage.CacheReadTokens + usage.CacheWriteTokens > usage.InputTokens)
            {
                errors.Add(new UsageError(F(CanonicalUsageParser.CacheWriteTokens),
                    $"cache_read_tokens ({usage.CacheReadTokens}) + cache_write_tokens ({usage.CacheWriteTokens}) " +
                    $"exceed input_tokens ({usage.InputTokens}); input_tokens must include all cache reads and writes"));
            }
            else if (usage.InputAudioTokens - usage.CacheAudioReadTokens + usage.CacheReadTokens + usage.CacheWriteTokens
                     > usage.InputTokens)
            {
                errors.Add(new UsageError(F(CanonicalUsageParser.InputAudioTokens),
                    $"uncached input_audio_tokens ({usage.InputAudioTokens - usage.CacheAudioReadTokens}) + " +
                    $"cache_read_tokens ({usage.CacheReadTokens}) + cache_write_tokens ({usage.CacheWriteTokens}) " +
                    $"exceed input_tokens ({usage.InputTokens})"));
            }
        }

        return errors;
    }

    /// <summary>Validates and wraps: the usage when valid, its errors otherwise.</summary>
    public static UsageParseResult ToResult(CanonicalUsage usage, UsageShape shape, string fieldPrefix)
    {
        IReadOnlyList<UsageError> errors = Validate(usage, fieldPrefix);
        return errors.Count == 0 ? UsageParseResult.Success(usage, shape) : UsageParseResult.Failure(errors, shape);
    }

    private static void Range(long value, string field, List<UsageError> errors)
    {
        if (value < 0)
        {
            errors.Add(new UsageError(field, $"must not be negative, got {value}"));
        }
        else if (value > UsageCounts.MaxCount)
        {
            errors.Add(new UsageError(field, $"is too large ({value}); the maximum is {UsageCounts.MaxCount}"));
        }
    }

    private static void Subset(long child, string childKey, long parent, string parentKey, string prefix, List<UsageError> errors)
    {
        if (child > parent)
        {
            errors.Add(new UsageError($"{prefix}.{childKey}",
                $"{childKey} ({child}) exceeds {parentKey} ({parent}), of which it is a part"));
        }
    }
}
