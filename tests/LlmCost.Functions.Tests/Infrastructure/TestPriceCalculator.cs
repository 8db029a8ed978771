using LlmCost.Core.Pricing;

namespace LlmCost.Functions.Tests.Infrastructure;

/// <summary>
/// Test-only prices with the published list prices of two OpenAI models (USD per million tokens:
/// gpt-4o input 2.50, cached input 1.25, output 10.00; gpt-4o-mini input 0.15, cached 0.075, output 0.60), so
/// expected costs in tests are computed by hand. Any other model is unpriced. Registered only when the app
/// has no pricing engine of its own.
/// </summary>
public sealed class TestPriceCalculator : IPriceCalculator
{
    private static readonly Dictionary<string, (decimal Input, decimal Cached, decimal Output)> Prices = new(StringComparer.Ordinal)
    {
        ["gpt-4o"] = (2.50m, 1.25m, 10.00m),
        ["gpt-4o-mini"] = (0.15m, 0.075m, 0.60m),
    };

    public PriceQuote Price(PriceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!Prices.TryGetValue(request.Model, out var p))
        {
            return PriceQuote.Unpriced($"unknown model '{request.Model}'", request.Provider);
        }

        long uncached = request.Usage.InputTokens - request.Usage.CacheReadTokens;
        decimal cost = ((uncached * p.Input) + (request.Usage.CacheReadTokens * p.Cached) + (request.Usage.OutputTokens * p.Output)) / 1_000_000m;
        return new PriceQuote { Priced = true, CostUsd = cost, ProviderId = "openai", ModelId = request.Model, Source = "test" };
    }
}
