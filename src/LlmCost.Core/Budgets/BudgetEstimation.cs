using LlmCost.Core.Estimation;
using LlmCost.Core.Pricing;

namespace LlmCost.Core.Budgets;

/// <summary>Worst case = every input token plus max_tokens of output, priced by the shared <see cref="CostEstimator"/>.</summary>
public sealed class EstimatorBudgetCostEstimator(CostEstimator estimator) : IBudgetCostEstimator
{
    public WorstCase Estimate(string tenantId, string provider, string model, long inputTokens, long maxOutputTokens, DateTimeOffset at)
    {
        var estimate = estimator.Estimate(new EstimateRequest
        {
            Provider = provider,
            Model = model,
            Timestamp = at,
            InputTokens = inputTokens,
            MaxOutputTokens = maxOutputTokens,
            TenantId = tenantId,
        });
        return new WorstCase(estimate.Priced, estimate.Priced ? estimate.WorstCaseCostUsd : 0m, inputTokens + maxOutputTokens, estimate.Reason);
    }
}

/// <summary>
/// Prompt tokens by the shared <see cref="PromptTokenCounter"/> (exact for OpenAI, documented estimates for
/// others). A bare prompt is counted as one user message: the framing tokens make it a slight over-estimate,
/// which is the safe side for a worst case.
/// </summary>
public sealed class SharedPromptTokenCounter : IPromptTokenCounter
{
    public long Count(string provider, string model, string? prompt, IReadOnlyList<PromptMessage>? messages)
    {
        var chat = messages?.Select(m => new ChatMessage(m.Role ?? string.Empty, m.Content)).ToList()
            ?? [new ChatMessage("user", prompt ?? string.Empty)];
        return PromptTokenCounter.Default.Count(provider, model, chat).Tokens;
    }
}

/// <summary>
/// Downgrade candidates from the price catalog: every current (non-deprecated, chat) model of the requested
/// model's provider, plus configured cross-provider alternatives. <see cref="BudgetService"/> prices them, keeps
/// the cheaper ones and puts the same provider first.
/// </summary>
public sealed class CatalogDowngradeCatalog(
    PriceCatalog catalog,
    TimeProvider time,
    IReadOnlyDictionary<string, IReadOnlyList<string>> extraByProvider) : IDowngradeCatalog
{
    public IReadOnlyList<(string Provider, string Model)> Candidates(string provider, string model)
    {
        var now = time.GetUtcNow();
        var candidates = new List<(string Provider, string Model)>();
        if (catalog.TryResolve(provider, model, now, out var resolved))
        {
            candidates.AddRange(catalog.ModelsOf(resolved.ProviderId, now)
                .Where(m => !m.Model.Deprecated && (m.Model.Mode is null || m.Model.Mode == "chat"))
                .Select(m => (resolved.ProviderId, m.ModelId)));
        }

        candidates.AddRange(extraByProvider.SelectMany(p => p.Value.Select(m => (p.Key, m))));
        return candidates.Distinct().ToList();
    }
}
