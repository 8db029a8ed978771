namespace LlmCost.Core.Usage;

/// <summary>
/// What one LLM call used, in the nested token classes of genai-prices (see shared/pricing/README.md).
/// Parents include their children: <see cref="InputTokens"/> counts ALL input tokens, cache reads and writes
/// included; <see cref="CacheWrite1hTokens"/> is part of <see cref="CacheWriteTokens"/>;
/// <see cref="CacheAudioReadTokens"/> is part of both <see cref="InputAudioTokens"/> and
/// <see cref="CacheReadTokens"/>; <see cref="OutputTokens"/> includes reasoning and audio output.
/// Every token is priced at the most specific class it belongs to.
/// </summary>
/// <remarks>
/// Counts are <see cref="long"/>: a count is never fractional and never negative once validated
/// (<see cref="UsageValidator"/>). Providers' own conventions (Anthropic's input EXCLUDING cache tokens,
/// Gemini's thoughts billed as output) are converted into this shape by the normalisers, never here.
/// </remarks>
public sealed record CanonicalUsage
{
    public long InputTokens { get; init; }
    public long CacheReadTokens { get; init; }
    public long CacheWriteTokens { get; init; }
    public long CacheWrite1hTokens { get; init; }
    public long InputAudioTokens { get; init; }
    public long CacheAudioReadTokens { get; init; }
    public long OutputTokens { get; init; }
    public long ReasoningTokens { get; init; }
    public long OutputAudioTokens { get; init; }
    public long WebSearches { get; init; }

    /// <summary>Each call is one request (for per-request fees).</summary>
    public long Requests { get; init; } = 1;

    public static CanonicalUsage Empty { get; } = new();

    public long TotalTokens => InputTokens + OutputTokens;
}
