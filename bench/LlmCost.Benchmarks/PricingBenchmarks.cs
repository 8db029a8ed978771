using BenchmarkDotNet.Attributes;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;

namespace LlmCost.Benchmarks;

/// <summary>Price one call with the built-in catalog (resolution is cached after the first call, as in production).</summary>
[MemoryDiagnoser]
public class PricingBenchmarks
{
    private static readonly DateTimeOffset _at = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly PriceRequest _anthropic = new("anthropic", "claude-sonnet-4-20250514", _at, new CanonicalUsage
    {
        InputTokens = 3800, CacheReadTokens = 2000, CacheWriteTokens = 800, CacheWrite1hTokens = 300, OutputTokens = 400,
    });

    private readonly PriceRequest _openAi = new("openai", "gpt-4o", _at, new CanonicalUsage
    {
        InputTokens = 1117, CacheReadTokens = 1024, OutputTokens = 46,
    });

    private readonly PriceRequest _geminiTiered = new("google", "gemini-2.5-pro", _at, new CanonicalUsage
    {
        InputTokens = 250_000, CacheReadTokens = 100_000, OutputTokens = 5000, ReasoningTokens = 3000,
    });

    private readonly PricingEngine _engine = PricingEngine.Default;

    [GlobalSetup]
    public void Warm()
    {
        _ = _engine.Price(_anthropic);
        _ = _engine.Price(_openAi);
        _ = _engine.Price(_geminiTiered);
    }

    [Benchmark(Baseline = true)]
    public PriceQuote PriceOpenAiCall() => _engine.Price(_openAi);

    [Benchmark]
    public PriceQuote PriceAnthropicCallWithCacheTtls() => _engine.Price(_anthropic);

    [Benchmark]
    public PriceQuote PriceGeminiTieredCall() => _engine.Price(_geminiTiered);
}
