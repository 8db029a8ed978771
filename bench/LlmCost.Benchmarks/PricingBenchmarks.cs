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

    // The full lattice: text and image input, image output (the rate the ten-class model could not see).
    private readonly PriceRequest _geminiImage = new("google", "gemini-2.5-flash-image", _at, CanonicalUsage.From(
    [
        new(UsageUnits.Get("input_tokens"), 1_300), new(UsageUnits.Get("input_text_tokens"), 10), new(UsageUnits.Get("input_image_tokens"), 1_290),
        new(UsageUnits.Get("output_tokens"), 1_300), new(UsageUnits.Get("output_image_tokens"), 1_290), new(UsageUnits.Get("output_text_tokens"), 10),
    ]));

    // Realtime: cached text and audio by modality, audio out (nine units, five priced classes, overlap checks).
    private readonly PriceRequest _realtime = new("openai", "gpt-realtime", _at, CanonicalUsage.From(
    [
        new(UsageUnits.Get("input_tokens"), 9_000), new(UsageUnits.Get("input_text_tokens"), 3_000), new(UsageUnits.Get("input_audio_tokens"), 6_000),
        new(UsageUnits.Get("cache_read_tokens"), 4_000), new(UsageUnits.Get("cache_text_read_tokens"), 1_000), new(UsageUnits.Get("cache_audio_read_tokens"), 3_000),
        new(UsageUnits.Get("cache_image_read_tokens"), 0), new(UsageUnits.Get("input_image_tokens"), 0),
        new(UsageUnits.Get("output_tokens"), 2_000), new(UsageUnits.Get("output_audio_tokens"), 1_800), new(UsageUnits.Get("output_text_tokens"), 200),
    ]));

    private readonly PricingEngine _engine = PricingEngine.Default;

    [GlobalSetup]
    public void Warm()
    {
        _ = _engine.Price(_anthropic);
        _ = _engine.Price(_openAi);
        _ = _engine.Price(_geminiTiered);
        _ = _engine.Price(_geminiImage);
        _ = _engine.Price(_realtime);
    }

    [Benchmark(Baseline = true)]
    public PriceQuote PriceOpenAiCall() => _engine.Price(_openAi);

    [Benchmark]
    public PriceQuote PriceAnthropicCallWithCacheTtls() => _engine.Price(_anthropic);

    [Benchmark]
    public PriceQuote PriceGeminiTieredCall() => _engine.Price(_geminiTiered);

    [Benchmark]
    public PriceQuote PriceGeminiImageCall() => _engine.Price(_geminiImage);

    [Benchmark]
    public PriceQuote PriceRealtimeCachedAudioCall() => _engine.Price(_realtime);
}
