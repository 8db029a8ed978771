using System.Text.Json.Serialization;

namespace LlmCost.Core.Advice;

/// <summary>
/// A task profile: what the call needs, how big it is, and the tenant's constraints. The wire shape of
/// POST /api/models/select (snake_case).
/// </summary>
public sealed record ModelSelectionRequest
{
    public string? TenantId { get; init; }

    /// <summary>A task type of the tenant's configuration (its quality floor and allow-list apply).</summary>
    public string? TaskType { get; init; }

    /// <summary>Default ["text"]. Known: text, image, audio, video, pdf.</summary>
    public IReadOnlyList<string>? InputModalities { get; init; }

    /// <summary>Default ["text"].</summary>
    public IReadOnlyList<string>? OutputModalities { get; init; }

    public bool Tools { get; init; }

    public bool Reasoning { get; init; }

    /// <summary>A context window at least this large (beyond what the expected tokens need).</summary>
    public long? MinContextTokens { get; init; }

    /// <summary>Give this, or <see cref="Prompt"/> to have it counted per tokenizer family.</summary>
    public long? ExpectedInputTokens { get; init; }

    /// <summary>Expected output tokens, reasoning included. Required: output usually dominates the price.</summary>
    public long? ExpectedOutputTokens { get; init; }

    /// <summary>The prompt (one user message); counted with the model's tokenizer (exact for OpenAI, documented estimates otherwise). Never stored or logged.</summary>
    public string? Prompt { get; init; }

    /// <summary>Only these ("provider:model" or "provider:*").</summary>
    public IReadOnlyList<string>? AllowedModels { get; init; }

    /// <summary>Only these providers (default: the tenant's configured providers, else all with capability data).</summary>
    public IReadOnlyList<string>? Providers { get; init; }

    /// <summary>A candidate whose estimated cost per call is above this is excluded.</summary>
    [JsonConverter(typeof(NullableMoneyJsonConverter))]
    public decimal? MaxCostPerCallUsd { get; init; }

    /// <summary>At most this many ranked candidates (1..100, default 20); exclusions are always all listed.</summary>
    public int? MaxCandidates { get; init; }

    /// <summary>The caller the budgets are evaluated for (without it, user budgets are not evaluated).</summary>
    public string? UserId { get; init; }

    public string? TeamId { get; init; }

    public string? KeyId { get; init; }

    /// <summary>The max_tokens the call would be authorised with (the budget worst case); default the expected output.</summary>
    public long? MaxTokens { get; init; }
}

/// <summary>The ranked answer, with why each model of the considered providers was kept or excluded.</summary>
public sealed record ModelSelectionResult
{
    public required DateTimeOffset At { get; init; }

    public required string PriceSource { get; init; }

    public required string CapabilitySource { get; init; }

    /// <summary>Models of the considered providers that were examined.</summary>
    public int Considered { get; init; }

    /// <summary>Cheapest first (then higher tenant quality, then newer).</summary>
    public required IReadOnlyList<SelectionCandidate> Candidates { get; init; }

    /// <summary>Kept candidates beyond <see cref="ModelSelectionRequest.MaxCandidates"/>.</summary>
    public int MoreCandidates { get; init; }

    public required IReadOnlyList<SelectionExclusion> Excluded { get; init; }
}

/// <param name="Model">The catalog model id.</param>
/// <param name="CallableModel">A name to send that prices as this model (null when the catalog only has a pattern for it).</param>
/// <param name="InputTokensSource">"given", "counted_exact" or "counted_estimate".</param>
/// <param name="Reasons">Why it was kept: each need it meets, the budget it fits.</param>
public sealed record SelectionCandidate(
    int Rank,
    string Provider,
    string Model,
    string? CallableModel,
    [property: JsonConverter(typeof(MoneyJsonConverter))] decimal EstimatedCostUsd,
    long InputTokens,
    long OutputTokens,
    string InputTokensSource,
    long? ContextTokens,
    long? MaxOutputTokens,
    int? Quality,
    DateOnly? ReleaseDate,
    string? PriceVariant,
    IReadOnlyList<string> Reasons)
{
    /// <summary>What POST /api/budgets/authorize would answer for this model now (null when budgets were not evaluated).</summary>
    public CandidateBudgetDecision? BudgetDecision { get; init; }
}

/// <summary>A model that was not kept, with every reason (codes are stable; details are for people).</summary>
public sealed record SelectionExclusion(string Provider, string Model, IReadOnlyList<SelectionReason> Reasons);

public sealed record SelectionReason(string Code, string Detail);

/// <summary>Stable exclusion codes.</summary>
public static class ExclusionCodes
{
    public const string NotAllowed = "not_allowed";
    public const string NoCapabilityData = "no_capability_data";
    public const string Retired = "retired";
    public const string Deprecated = "deprecated";
    public const string RejectedPrice = "rejected_price";
    public const string InputModality = "input_modality";
    public const string OutputModality = "output_modality";
    public const string NoTools = "no_tool_calling";
    public const string NoReasoning = "no_reasoning";
    public const string ContextTooSmall = "context_too_small";
    public const string ContextUnknown = "context_unknown";
    public const string OutputLimit = "output_limit";
    public const string BelowQualityFloor = "below_quality_floor";
    public const string NoQualityScore = "no_quality_score";
    public const string Unpriced = "unpriced";
    public const string OverBudget = "over_budget";
}
