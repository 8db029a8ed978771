using LlmCost.Core.Estimation;
using LlmCost.Core.Pricing;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Core.Tests.Estimation;

/// <summary>Worst-case estimates priced by the real engine (built-in catalog); costs worked out by hand.</summary>
public sealed class CostEstimatorPricingTests
{
    private static readonly CostEstimator _estimator =
        new(PricingEngine.Default, new FakeTimeProvider(new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero)));

    [Theory]
    // gemini-2.5-pro, tier above 200,000 input tokens: input $2.50, output $15 -> 250,000 * 2.5 + 1,000 * 15 = $0.64.
    [InlineData(250_000, 0.64)]
    // below it: input $1.25, output $10 -> 150,000 * 1.25 + 1,000 * 10 = $0.1975.
    [InlineData(150_000, 0.1975)]
    public void TheTierThatWouldApply_IsUsed(long input, decimal expected)
    {
        CostEstimate estimate = _estimator.Estimate(new EstimateRequest
        {
            Provider = "google", Model = "gemini-2.5-pro", InputTokens = input, MaxOutputTokens = 1000,
        });

        Assert.True(estimate.Priced, estimate.Reason);
        Assert.Equal(expected, estimate.WorstCaseCostUsd);
    }

    [Fact]
    public void PromptCaching_WorstCaseIsAllInputWrittenForAnHour()
    {
        // claude-sonnet-4: plain 10,000 * 3 + 1,000 * 15 = $0.045; as 1h cache writes 10,000 * 6 + 1,000 * 15 = $0.075.
        CostEstimate plain = _estimator.Estimate(new EstimateRequest
        {
            Provider = "anthropic", Model = "claude-sonnet-4-20250514", InputTokens = 10_000, MaxOutputTokens = 1000,
        });
        CostEstimate cached = _estimator.Estimate(new EstimateRequest
        {
            Provider = "anthropic", Model = "claude-sonnet-4-20250514", InputTokens = 10_000, MaxOutputTokens = 1000,
            MayWriteCache = true,
        });

        Assert.Equal(0.045m, plain.WorstCaseCostUsd);
        Assert.Equal(0.075m, cached.WorstCaseCostUsd);
    }

    [Fact]
    public void OpenAiPrompt_IsCountedExactly_ThenPriced()
    {
        // The cookbook conversation is 124 tokens on gpt-4o (API-measured): 124 * $2.50 + 500 * $10 = $0.00531.
        CostEstimate estimate = _estimator.Estimate(new EstimateRequest
        {
            Provider = "openai", Model = "gpt-4o", MaxOutputTokens = 500,
            Messages =
            [
                new("system", "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."),
                new("system", "New synergies will help drive top-line growth.", "example_user"),
                new("system", "Things working well together will increase revenue.", "example_assistant"),
                new("system", "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.", "example_user"),
                new("system", "Let's talk later when we're less busy about how to do better.", "example_assistant"),
                new("user", "This late pivot means we don't have time to boil the ocean for the client deliverable."),
            ],
        });

        Assert.Equal(124, estimate.InputTokens);
        Assert.Equal("exact:o200k_base", estimate.Method);
        Assert.Equal(0.00531m, estimate.WorstCaseCostUsd);
    }

    [Fact]
    public void UnknownModel_IsUnpriced_NotZero()
    {
        CostEstimate estimate = _estimator.Estimate(new EstimateRequest { Model = "no-such-model-xyz", InputTokens = 10, MaxOutputTokens = 10 });

        Assert.False(estimate.Priced);
        Assert.False(string.IsNullOrEmpty(estimate.Reason));
    }
}
