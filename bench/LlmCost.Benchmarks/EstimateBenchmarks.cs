using BenchmarkDotNet.Attributes;
using LlmCost.Core.Estimation;
using LlmCost.Core.Pricing;

namespace LlmCost.Benchmarks;

/// <summary>Estimate the worst-case cost of one prompt (count tokens + price), as POST /api/budgets/authorize does.</summary>
[MemoryDiagnoser]
public class EstimateBenchmarks
{
    private static readonly ChatMessage[] _messages =
    [
        new("system", "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."),
        new("system", "New synergies will help drive top-line growth.", "example_user"),
        new("system", "Things working well together will increase revenue.", "example_assistant"),
        new("system", "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.", "example_user"),
        new("system", "Let's talk later when we're less busy about how to do better.", "example_assistant"),
        new("user", "This late pivot means we don't have time to boil the ocean for the client deliverable."),
    ];

    private readonly CostEstimator _estimator = new(PricingEngine.Default, TimeProvider.System);

    private readonly EstimateRequest _openAi = new()
    {
        Provider = "openai", Model = "gpt-4o", MaxOutputTokens = 1000, Messages = _messages,
        Timestamp = new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero),
    };

    private readonly EstimateRequest _anthropic = new()
    {
        Provider = "anthropic", Model = "claude-sonnet-4-20250514", MaxOutputTokens = 1000, Messages = _messages,
        Timestamp = new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero),
    };

    private readonly EstimateRequest _given = new()
    {
        Provider = "openai", Model = "gpt-4o", MaxOutputTokens = 1000, InputTokens = 124,
        Timestamp = new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero),
    };

    [GlobalSetup]
    public void Warm()
    {
        _ = _estimator.Estimate(_openAi);
        _ = _estimator.Estimate(_anthropic);
    }

    [Benchmark(Baseline = true)]
    public CostEstimate EstimateGivenTokenCount() => _estimator.Estimate(_given);

    [Benchmark]
    public CostEstimate EstimateOpenAiPrompt() => _estimator.Estimate(_openAi);

    [Benchmark]
    public CostEstimate EstimateAnthropicPrompt() => _estimator.Estimate(_anthropic);
}
