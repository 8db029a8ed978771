using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;
using Microsoft.ML.Tokenizers;

namespace LlmCost.Core.Budgets;

/// <summary>Worst case = every input token plus max_tokens of output, priced by the same calculator that prices events.</summary>
public sealed class PriceCalculatorCostEstimator(IPriceCalculator calculator) : IBudgetCostEstimator
{
    public WorstCase Estimate(string tenantId, string provider, string model, long inputTokens, long maxOutputTokens, DateTimeOffset at)
    {
        var usage = new CanonicalUsage { InputTokens = inputTokens, OutputTokens = maxOutputTokens };
        var quote = calculator.Price(new PriceRequest(provider, model, at, usage, tenantId));
        return new WorstCase(quote.Priced, quote.Priced ? quote.CostUsd : 0m, inputTokens + maxOutputTokens, quote.Reason);
    }
}

/// <summary>
/// Counts prompt tokens with the o200k tokenizer (GPT-4o family; a close enough upper-ish estimate for others),
/// plus the chat framing OpenAI documents (about 3 tokens per message and 3 to prime the reply).
/// </summary>
public sealed class TiktokenPromptTokenCounter : IPromptTokenCounter
{
    private static readonly Lazy<Tokenizer> Tokenizer = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));

    public long Count(string model, string? prompt, IReadOnlyList<PromptMessage>? messages)
    {
        if (messages is not null)
        {
            long total = 3;
            foreach (var message in messages)
            {
                total += 3 + Tokenizer.Value.CountTokens(message.Role) + Tokenizer.Value.CountTokens(message.Content);
            }

            return total;
        }

        return prompt is null ? 0 : Tokenizer.Value.CountTokens(prompt);
    }
}

/// <summary>Downgrade candidates from configuration: provider → models an adaptive budget may suggest.</summary>
public sealed class ConfiguredDowngradeCatalog(IReadOnlyDictionary<string, IReadOnlyList<string>> modelsByProvider) : IDowngradeCatalog
{
    public IReadOnlyList<(string Provider, string Model)> Candidates(string provider, string model) =>
        modelsByProvider.SelectMany(p => p.Value.Select(m => (p.Key, m))).ToList();
}
