using System.Text.Json;
using LlmCost.Core.Estimation;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace LlmCost.Core.Tests.Estimation;

/// <summary>The estimator's own logic, with the pricer isolated (the real engine is covered in CostEstimatorPricingTests).</summary>
public sealed class CostEstimatorTests
{
    private static readonly DateTimeOffset _now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    // input $2/M, cache write 1h $6/M (charged for the 1h-write tokens), output $10/M.
    private static PriceQuote Quote(PriceRequest r)
    {
        CanonicalUsage u = r.Usage;
        decimal cost = ((u.InputTokens - u.CacheWrite1hTokens) * 2m + u.CacheWrite1hTokens * 6m + u.OutputTokens * 10m) / 1_000_000m;
        return new PriceQuote { Priced = true, CostUsd = cost, ModelId = r.Model, ProviderId = r.Provider };
    }

    private static (CostEstimator Estimator, List<PriceRequest> Seen) Create()
    {
        var seen = new List<PriceRequest>();
        var calculator = new Mock<IPriceCalculator>();
        calculator.Setup(c => c.Price(It.IsAny<PriceRequest>())).Returns((PriceRequest r) =>
        {
            seen.Add(r);
            return Quote(r);
        });
        return (new CostEstimator(calculator.Object, new FakeTimeProvider(_now)), seen);
    }

    [Fact]
    public void GivenInputTokens_WorstCaseIsInputPlusFullOutputLimit()
    {
        (CostEstimator estimator, List<PriceRequest> seen) = Create();

        CostEstimate estimate = estimator.Estimate(new EstimateRequest
        {
            Provider = "openai", Model = "gpt-4.1", InputTokens = 10_000, MaxOutputTokens = 2_000,
        });

        // 10,000 * $2/M + 2,000 * $10/M = 0.02 + 0.02.
        Assert.True(estimate.Priced);
        Assert.Equal(0.04m, estimate.WorstCaseCostUsd);
        Assert.Equal("given", estimate.Method);
        PriceRequest request = Assert.Single(seen);
        Assert.Equal(new CanonicalUsage { InputTokens = 10_000, OutputTokens = 2_000 }, request.Usage);
        Assert.Equal(_now, request.Timestamp);
    }

    [Fact]
    public void Prompt_IsCountedExactlyForOpenAi()
    {
        (CostEstimator estimator, List<PriceRequest> seen) = Create();

        CostEstimate estimate = estimator.Estimate(new EstimateRequest
        {
            Provider = "openai", Model = "gpt-4o", MaxOutputTokens = 100,
            Messages = [new ChatMessage("user", "Hello there")],
        });

        // 3 (message) + tokens("user") 1 + tokens("Hello there") 2 + 3 (priming) = 9.
        Assert.Equal(9, estimate.InputTokens);
        Assert.Equal("exact:o200k_base", estimate.Method);
        Assert.Equal(9, Assert.Single(seen).Usage.InputTokens);
    }

    [Fact]
    public void ThinkingBudgetOutsideMaxTokens_IsAddedToOutput()
    {
        (CostEstimator estimator, _) = Create();

        CostEstimate estimate = estimator.Estimate(new EstimateRequest
        {
            Provider = "google", Model = "gemini-2.5-flash", InputTokens = 0, MaxOutputTokens = 1000, ThinkingBudgetTokens = 4000,
        });

        Assert.Equal(5000, estimate.MaxOutputTokens);
        Assert.Equal(0.05m, estimate.WorstCaseCostUsd);
    }

    [Fact]
    public void MayWriteCache_TakesTheDearerReading()
    {
        (CostEstimator estimator, List<PriceRequest> seen) = Create();

        CostEstimate estimate = estimator.Estimate(new EstimateRequest
        {
            Provider = "anthropic", Model = "claude-sonnet-4-20250514", InputTokens = 1_000_000, MaxOutputTokens = 0,
            MayWriteCache = true,
        });

        // Plain: 1M * $2/M = $2; all written to the 1h cache: 1M * $6/M = $6.
        Assert.Equal(6m, estimate.WorstCaseCostUsd);
        Assert.Equal(2, seen.Count);
    }

    [Fact]
    public void UnpricedModel_IsNotPriced_WithTheReason()
    {
        var calculator = new Mock<IPriceCalculator>();
        calculator.Setup(c => c.Price(It.IsAny<PriceRequest>())).Returns(PriceQuote.Unpriced("unknown model 'foo'"));
        var estimator = new CostEstimator(calculator.Object, new FakeTimeProvider(_now));

        CostEstimate estimate = estimator.Estimate(new EstimateRequest { Model = "foo", InputTokens = 5, MaxOutputTokens = 5 });

        Assert.False(estimate.Priced);
        Assert.Equal("unknown model 'foo'", estimate.Reason);
    }

    [Fact]
    public void InvalidRequest_NamesTheFields_AndPricesNothing()
    {
        (CostEstimator estimator, List<PriceRequest> seen) = Create();

        CostEstimate estimate = estimator.Estimate(new EstimateRequest { Model = " ", InputTokens = -1, MaxOutputTokens = -5 });

        Assert.False(estimate.Priced);
        Assert.Equal(["model", "max_tokens", "input_tokens"], estimate.Errors.Select(e => e.Field));
        Assert.Empty(seen);
    }

    [Fact]
    public void ParsedRequest_IsEstimated()
    {
        (CostEstimator estimator, _) = Create();
        using JsonDocument doc = JsonDocument.Parse("""
            {"provider":"openai","model":"gpt-4o","timestamp":"2026-05-01T00:00:00Z","max_completion_tokens":50,
             "messages":[{"role":"user","content":[{"type":"text","text":"Hello there"},
                          {"type":"image_url","image_url":{"url":"https://example.com/a.png","detail":"low"},"width":4000,"height":3000}]}]}
            """);
        EstimateRequestParseResult parsed = EstimateRequestParser.Parse(doc.RootElement);
        Assert.True(parsed.IsValid, string.Join("; ", parsed.Errors));

        CostEstimate estimate = estimator.Estimate(parsed.Request!);

        // 9 text tokens (see Prompt_IsCountedExactlyForOpenAi) + 85 for a low-detail image.
        Assert.Equal(94, estimate.InputTokens);
        Assert.Equal(50, estimate.MaxOutputTokens);
    }
}
