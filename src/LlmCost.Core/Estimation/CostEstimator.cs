using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;

namespace LlmCost.Core.Estimation;

/// <summary>What a caller is about to send: the prompt (or its known token count) and the output limit.</summary>
public sealed record EstimateRequest
{
    /// <summary>Provider id; null = infer from the model name.</summary>
    public string? Provider { get; init; }

    public required string Model { get; init; }

    /// <summary>When the call will be made (selects historic prices / off-peak windows); null = now.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    public IReadOnlyList<ChatMessage> Messages { get; init; } = [];

    public IReadOnlyList<ToolDefinition> Tools { get; init; } = [];

    /// <summary>A known input token count; when set, <see cref="Messages"/> and <see cref="Tools"/> are not counted.</summary>
    public long? InputTokens { get; init; }

    /// <summary>The request's output limit (<c>max_tokens</c> / <c>max_completion_tokens</c> / <c>maxOutputTokens</c>).</summary>
    public long MaxOutputTokens { get; init; }

    /// <summary>
    /// Thinking budget NOT included in <see cref="MaxOutputTokens"/> (Gemini's <c>thinkingBudget</c>): added to the
    /// worst-case output. OpenAI's <c>max_completion_tokens</c> and Anthropic's <c>max_tokens</c> already include it.
    /// </summary>
    public long ThinkingBudgetTokens { get; init; }

    /// <summary>
    /// The request may write the prompt to a cache (Anthropic <c>cache_control</c>, ...). Cache writes cost more
    /// than plain input (1.25x for 5 minutes, 2x for 1 hour), so the worst case then prices the whole prompt as
    /// 1-hour cache writes if that is dearer.
    /// </summary>
    public bool MayWriteCache { get; init; }

    public string? TenantId { get; init; }
}

/// <summary>The worst-case cost of a request before it is made.</summary>
public sealed record CostEstimate
{
    public long InputTokens { get; init; }

    /// <summary>Worst-case output: <c>max_tokens</c> plus any thinking budget outside it.</summary>
    public long MaxOutputTokens { get; init; }

    /// <summary>Prompt + maximum output at the prices (and tier) that would apply. 0 when not <see cref="Priced"/>.</summary>
    public decimal WorstCaseCostUsd { get; init; }

    /// <summary>False when the cost is unknown (unknown model, bad request): see <see cref="Reason"/>. Never a silent $0.</summary>
    public bool Priced { get; init; }

    public string? Reason { get; init; }

    /// <summary>How <see cref="InputTokens"/> was obtained: <c>exact:o200k_base</c>, <c>estimate:anthropic-o200k-x1.35</c>, <c>given</c>.</summary>
    public string Method { get; init; } = "";

    /// <summary>The price quote of the worst case (per-class breakdown, matched model, source).</summary>
    public PriceQuote? Quote { get; init; }

    /// <summary>Problems with the request itself, each naming its field; non-empty means nothing was estimated.</summary>
    public IReadOnlyList<FieldError> Errors { get; init; } = [];
}

/// <summary>
/// Worst-case cost of a request before it is made: the prompt's input tokens (counted or estimated, see
/// <see cref="PromptTokenCounter"/>) plus the full output limit, priced by <see cref="IPriceCalculator"/>. Because
/// the pricer picks tiers by the request's total input tokens, the tier that would apply is the one used.
/// Budgets reserve this amount before a call (POST /api/budgets/authorize).
/// </summary>
public sealed class CostEstimator
{
    private readonly IPriceCalculator _calculator;
    private readonly PromptTokenCounter _counter;
    private readonly TimeProvider _timeProvider;

    public CostEstimator(IPriceCalculator calculator, TimeProvider timeProvider, PromptTokenCounter? counter = null)
    {
        ArgumentNullException.ThrowIfNull(calculator);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _calculator = calculator;
        _timeProvider = timeProvider;
        _counter = counter ?? PromptTokenCounter.Default;
    }

    public CostEstimate Estimate(EstimateRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        IReadOnlyList<FieldError> errors = Validate(request);
        if (errors.Count > 0)
        {
            return new CostEstimate
            {
                Priced = false,
                Errors = errors,
                Reason = string.Join("; ", errors.Select(e => e.ToString())),
            };
        }

        PromptTokenCount input = request.InputTokens is { } known
            ? new PromptTokenCount(known, "given", Exact: true)
            : _counter.Count(request.Provider, request.Model, request.Messages, request.Tools);
        long output = request.MaxOutputTokens + request.ThinkingBudgetTokens;
        if (input.Tokens > UsageCounts.MaxCount || output > UsageCounts.MaxCount)
        {
            return new CostEstimate
            {
                InputTokens = input.Tokens, MaxOutputTokens = output, Priced = false, Method = input.Method,
                Reason = "token counts exceed the supported maximum",
            };
        }

        DateTimeOffset timestamp = request.Timestamp ?? _timeProvider.GetUtcNow();
        PriceQuote quote = Price(request, timestamp, new CanonicalUsage { InputTokens = input.Tokens, OutputTokens = output });
        if (quote.Priced && request.MayWriteCache && input.Tokens > 0)
        {
            // All input written to the 1-hour cache is the dearest way the same prompt can be billed.
            PriceQuote cached = Price(request, timestamp, new CanonicalUsage
            {
                InputTokens = input.Tokens,
                CacheWriteTokens = input.Tokens,
                CacheWrite1hTokens = input.Tokens,
                OutputTokens = output,
            });
            if (cached.Priced && cached.CostUsd > quote.CostUsd)
            {
                quote = cached;
            }
        }

        return new CostEstimate
        {
            InputTokens = input.Tokens,
            MaxOutputTokens = output,
            WorstCaseCostUsd = quote.Priced ? quote.CostUsd : 0m,
            Priced = quote.Priced,
            Reason = quote.Reason,
            Method = input.Method,
            Quote = quote,
        };
    }

    private PriceQuote Price(EstimateRequest request, DateTimeOffset timestamp, CanonicalUsage usage) =>
        _calculator.Price(new PriceRequest(request.Provider, request.Model, timestamp, usage, request.TenantId));

    private static IReadOnlyList<FieldError> Validate(EstimateRequest request)
    {
        var errors = new List<FieldError>();
        if (string.IsNullOrWhiteSpace(request.Model))
        {
            errors.Add(new FieldError("model", "is required"));
        }

        if (request.MaxOutputTokens < 0 || request.MaxOutputTokens > UsageCounts.MaxCount)
        {
            errors.Add(new FieldError("max_tokens", $"must be between 0 and {UsageCounts.MaxCount}, got {request.MaxOutputTokens}"));
        }

        if (request.ThinkingBudgetTokens < 0 || request.ThinkingBudgetTokens > UsageCounts.MaxCount)
        {
            errors.Add(new FieldError("thinking_budget_tokens", $"must be between 0 and {UsageCounts.MaxCount}, got {request.ThinkingBudgetTokens}"));
        }

        if (request.InputTokens is < 0 or > UsageCounts.MaxCount)
        {
            errors.Add(new FieldError("input_tokens", $"must be between 0 and {UsageCounts.MaxCount}, got {request.InputTokens}"));
        }

        for (int i = 0; i < request.Messages.Count; i++)
        {
            ChatMessage message = request.Messages[i];
            if (string.IsNullOrEmpty(message.Role))
            {
                errors.Add(new FieldError($"messages[{i}].role", "is required"));
            }

            for (int j = 0; j < message.Images.Count; j++)
            {
                if (message.Images[j].Width <= 0 || message.Images[j].Height <= 0)
                {
                    errors.Add(new FieldError($"messages[{i}].images[{j}]", "width and height must be positive pixel counts"));
                }
            }
        }

        return errors;
    }
}
