namespace LlmCost.Core.Usage;

/// <summary>Which wire shape a usage object was read as.</summary>
public enum UsageShape
{
    /// <summary>The service's own snake_case keys (<see cref="CanonicalUsageParser"/>).</summary>
    Canonical,

    /// <summary>OpenAI / Azure OpenAI chat completions: <c>prompt_tokens</c> INCLUDES cached tokens.</summary>
    OpenAiChat,

    /// <summary>OpenAI / Azure OpenAI Responses API: <c>input_tokens</c> INCLUDES cached tokens.</summary>
    OpenAiResponses,

    /// <summary>Anthropic Messages: <c>input_tokens</c> EXCLUDES cache reads and writes.</summary>
    Anthropic,

    /// <summary>Google Gemini <c>usageMetadata</c>: thoughts are billed as output.</summary>
    Gemini,

    /// <summary>Amazon Bedrock Converse (and Nova's InvokeModel body): <c>inputTokens</c> EXCLUDES cache reads and writes.</summary>
    BedrockConverse,

    /// <summary>OpenAI / Azure / xAI Realtime <c>response.done</c> usage and token-based transcription usage:
    /// <c>input_token_details</c> / <c>output_token_details</c> by modality.</summary>
    OpenAiRealtime,

    /// <summary>Duration-based transcription usage (<c>{"type":"duration","seconds":N}</c>): billed per audio second.</summary>
    AudioDuration,

    /// <summary>Cohere v1/v2 chat, embed and rerank: <c>billed_units</c> (what is billed) and <c>tokens</c>.</summary>
    Cohere,

    /// <summary>Mistral OCR <c>usage_info.pages_processed</c>: billed per page (annotated pages on top).</summary>
    MistralOcr,

    /// <summary>Bedrock InvokeModel response headers (<c>X-Amzn-Bedrock-Input-Token-Count</c>, ...), for any model.</summary>
    BedrockInvokeHeaders,

    /// <summary>Bedrock InvokeModel body of Meta Llama: <c>prompt_token_count</c>, <c>generation_token_count</c>.</summary>
    BedrockLlama,

    /// <summary>Bedrock InvokeModel body of Amazon Titan: <c>inputTextTokenCount</c>, <c>results[].tokenCount</c>.</summary>
    BedrockTitan,
}

/// <summary>
/// The outcome of reading a usage object: either a validated <see cref="CanonicalUsage"/> or the list of
/// everything wrong with it (all problems at once, each naming its field). Never both, never a clamped value.
/// </summary>
public sealed record UsageParseResult
{
    public CanonicalUsage? Usage { get; init; }

    public IReadOnlyList<FieldError> Errors { get; init; } = [];

    /// <summary>The shape the input was read as (null when it could not be recognised).</summary>
    public UsageShape? Shape { get; init; }

    /// <summary>
    /// Fields of a provider's usage object this version does not know, ignored (never a rejection: providers add
    /// fields all the time) and counted in the <c>llmcost.usage.unknown_fields</c> metric. Paths relative to the
    /// usage object, e.g. <c>prompt_tokens_details.new_kind_tokens</c>.
    /// </summary>
    public IReadOnlyList<string> IgnoredFields { get; init; } = [];

    /// <summary>The cost the provider itself reported in the body (OpenRouter's <c>usage.cost</c>, ...), in USD.</summary>
    public decimal? ReportedCostUsd { get; init; }

    public bool IsValid => Usage is not null && Errors.Count == 0;

    public static UsageParseResult Success(CanonicalUsage usage, UsageShape shape) =>
        new() { Usage = usage, Shape = shape };

    public static UsageParseResult Failure(IReadOnlyList<FieldError> errors, UsageShape? shape = null) =>
        new() { Errors = errors, Shape = shape };

    public static UsageParseResult Failure(string field, string message, UsageShape? shape = null) =>
        Failure([new FieldError(field, message)], shape);

    /// <summary>All errors joined for a one-line message (CLI output, problem details title).</summary>
    public string ErrorSummary => string.Join("; ", Errors.Select(e => e.ToString()));
}
