using System.Text.Json;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;

namespace LlmCost.Core.Tests.Usage;

/// <summary>
/// Provider response bodies, normalised and priced by the real engine over the built-in genai-prices catalog.
/// Every expected cost is worked out by hand in the comment from the list prices (USD per million tokens).
/// </summary>
public sealed class ProviderBodiesPricedTests
{
    private static readonly DateTimeOffset _june2026 = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private static PriceQuote Price(string? provider, string model, string body, DateTimeOffset? at = null)
    {
        using JsonDocument doc = JsonDocument.Parse(body);
        UsageParseResult usage = UsageNormalizer.Normalize(provider, doc.RootElement);
        Assert.True(usage.IsValid, usage.ErrorSummary);
        return PricingEngine.Default.Price(new PriceRequest(provider, model, at ?? _june2026, usage.Usage!));
    }

    [Fact]
    public void Anthropic_SonnetFour_WithBothCacheTtls()
    {
        // claude-sonnet-4: input $3, cache read $0.30, 5m write $3.75, 1h write $6, output $15.
        //   1,000 uncached * 3    = 3,000
        //   2,000 cache read * 0.3 =   600
        //     500 5m write * 3.75 = 1,875
        //     300 1h write * 6    = 1,800
        //     400 output * 15     = 6,000
        //                   total = 13,275 micro-dollars per million -> $0.013275
        PriceQuote quote = Price("anthropic", "claude-sonnet-4-20250514", UsageNormalizerTests.AnthropicBody);

        Assert.True(quote.Priced, quote.Reason);
        Assert.Equal(0.013275m, quote.CostUsd);
        Assert.Equal("claude-sonnet-4-0", quote.ModelId);
    }

    [Fact]
    public void Anthropic_WebSearchesAreTenDollarsPerThousand()
    {
        // 6,039 * $3 = 0.018117; 931 * $15 = 0.013965; 2 searches * $10 / 1000 = 0.02 -> $0.052082.
        PriceQuote quote = Price("anthropic", "claude-sonnet-4-20250514", UsageNormalizerTests.AnthropicWebSearchBody);

        Assert.Equal(0.052082m, quote.CostUsd);
    }

    [Fact]
    public void OpenAiChat_CachedTokensAreNotChargedTwice()
    {
        // gpt-4o: input $2.50, cached $1.25, output $10.
        //   (1,117 - 1,024) = 93 uncached * 2.5 = 232.5; 1,024 cached * 1.25 = 1,280; 46 * 10 = 460 -> $0.0019725.
        PriceQuote quote = Price("openai", "gpt-4o-2024-08-06", UsageNormalizerTests.OpenAiChatBody);

        Assert.Equal(0.0019725m, quote.CostUsd);
    }

    [Fact]
    public void OpenAiChat_O3_ReasoningIsOutput_AndHistoricPricesFollowTheTimestamp()
    {
        // o3 from 2025-06-10: input $2, cached $0.50, output $8:
        //   580 * 2 = 1,160; 1,920 * 0.5 = 960; 1,380 * 8 = 11,040 -> $0.01316.
        // Before: input $10, cached $0.50, output $40: 5,800 + 960 + 55,200 -> $0.06196.
        Assert.Equal(0.01316m, Price("openai", "o3-2025-04-16", UsageNormalizerTests.OpenAiReasoningChatBody).CostUsd);
        Assert.Equal(0.06196m, Price("openai", "o3-2025-04-16", UsageNormalizerTests.OpenAiReasoningChatBody,
            new DateTimeOffset(2025, 5, 1, 0, 0, 0, TimeSpan.Zero)).CostUsd);
    }

    [Fact]
    public void OpenAiResponses_O3()
    {
        // 1,162 uncached * 2 = 2,324; 2,048 cached * 0.5 = 1,024; 905 * 8 = 7,240 -> $0.010588.
        Assert.Equal(0.010588m, Price("openai", "o3-2025-04-16", UsageNormalizerTests.OpenAiResponsesBody).CostUsd);
    }

    [Fact]
    public void OpenAiAudio_WithoutAudioPrices_IsChargedAtTheParentClasses()
    {
        // gpt-4o-audio-preview lists only input $2.50 / output $10: audio falls back to them.
        //   80 * 2.5 = 200; 130 * 10 = 1,300 -> $0.0015.
        Assert.Equal(0.0015m, Price("openai", "gpt-4o-audio-preview-2024-12-17", UsageNormalizerTests.OpenAiAudioChatBody).CostUsd);
    }

    [Fact]
    public void AzureOpenAi_Gpt4o()
    {
        // azure gpt-4o: $2.50 / cached $1.25 / $10: 1,280 * 2.5 = 3,200; 5,120 * 1.25 = 6,400; 250 * 10 = 2,500 -> $0.0121.
        PriceQuote quote = Price("azure", "gpt-4o-2024-11-20", UsageNormalizerTests.AzureChatBody);

        Assert.Equal("azure", quote.ProviderId);
        Assert.Equal(0.0121m, quote.CostUsd);
    }

    [Fact]
    public void Gemini_Flash_AudioAndCacheAndThoughts()
    {
        // gemini-2.5-flash: input $0.30, cache read $0.03, output $2.50, input audio $1, cached audio $0.10.
        //   cached audio 600 * 0.1 = 60; cached text (8,000 - 600) 7,400 * 0.03 = 222;
        //   uncached audio (1,000 - 600) 400 * 1 = 400; uncached text (12,000 - 8,000 - 400) 3,600 * 0.3 = 1,080;
        //   output (350 + 1,200 thoughts) 1,550 * 2.5 = 3,875 -> $0.005637.
        Assert.Equal(0.005637m, Price("google", "gemini-2.5-flash", UsageNormalizerTests.GeminiBody).CostUsd);
    }

    [Fact]
    public void Gemini_Pro_LongPromptTier_AppliesToEveryToken_AndThoughtsAreOutput()
    {
        // 250,000 input > 200,000: input $2.50, cache read $0.25, output $15 for all tokens.
        //   150,000 * 2.5 = 375,000; 100,000 * 0.25 = 25,000; (2,000 + 3,000) * 15 = 75,000 -> $0.475.
        PriceQuote quote = Price("google", "gemini-2.5-pro", """
            {"candidates":[{"content":{"parts":[{"text":"..."}],"role":"model"},"finishReason":"STOP"}],
             "usageMetadata":{"promptTokenCount":250000,"cachedContentTokenCount":100000,"candidatesTokenCount":2000,
                              "thoughtsTokenCount":3000,"totalTokenCount":255000},
             "modelVersion":"gemini-2.5-pro"}
            """);

        Assert.Equal(0.475m, quote.CostUsd);
    }

    [Fact]
    public void BedrockConverse_Sonnet4()
    {
        // regional Bedrock claude-sonnet-4: $3 / read $0.30 / write $3.75 / $15:
        //   1,500 * 3 = 4,500; 3,000 * 0.3 = 900; 500 * 3.75 = 1,875; 300 * 15 = 4,500 -> $0.011775.
        PriceQuote quote = Price("aws", "anthropic.claude-sonnet-4-20250514-v1:0", UsageNormalizerTests.BedrockConverseBody);

        Assert.Equal(0.011775m, quote.CostUsd);
    }
}

/// <summary>Providers whose OpenAI-style chat usage departs from OpenAI's convention.</summary>
public sealed class ChatQuirkTests
{
    private static readonly DateTimeOffset _june2026 = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private static UsageParseResult Normalize(string provider, string json)
    {
        using JsonDocument doc = JsonDocument.Parse(json);
        return UsageNormalizer.Normalize(provider, doc.RootElement);
    }

    private const string GrokBody = """
        {"id":"3f1a2b","object":"chat.completion","created":1752000000,"model":"grok-3-mini",
         "choices":[{"index":0,"message":{"role":"assistant","content":"4","reasoning_content":"..."},"finish_reason":"stop"}],
         "usage":{"prompt_tokens":100,"completion_tokens":50,"total_tokens":450,
                  "prompt_tokens_details":{"text_tokens":100,"audio_tokens":0,"image_tokens":0,"cached_tokens":20},
                  "completion_tokens_details":{"reasoning_tokens":300,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0},
                  "num_sources_used":0},
         "system_fingerprint":"fp_6b2d2d5fa8"}
        """;

    [Fact]
    public void XAi_ReasoningIsOnTopOfCompletion()
    {
        // total_tokens 450 = 100 prompt + 50 completion + 300 reasoning: output = 350.
        UsageParseResult result = Normalize("x-ai", GrokBody);

        Assert.True(result.IsValid, result.ErrorSummary);
        Assert.Equal(new CanonicalUsage { InputTokens = 100, CacheReadTokens = 20, OutputTokens = 350, ReasoningTokens = 300 }
            .With(UsageUnits.Get("input_text_tokens"), 100), result.Usage);
    }

    [Fact]
    public void XAi_PricedWithReasoningAsOutput()
    {
        // grok-3-mini: input $0.30, cached $0.075, output $0.50:
        //   80 * 0.3 = 24; 20 * 0.075 = 1.5; 350 * 0.5 = 175 -> $0.0002005.
        UsageParseResult usage = Normalize("x-ai", GrokBody);
        PriceQuote quote = PricingEngine.Default.Price(new PriceRequest("x-ai", "grok-3-mini", _june2026, usage.Usage!));

        Assert.Equal(0.0002005m, quote.CostUsd);
    }

    [Fact]
    public void SameBodyFromAnotherProvider_WouldBeRejected_NotUndercounted()
    {
        // Read with OpenAI's convention, reasoning (300) cannot be part of completion (50): an error, never a
        // silently wrong number.
        UsageParseResult result = Normalize("openai", GrokBody);

        Assert.Equal("raw_usage.usage.completion_tokens_details.reasoning_tokens", Assert.Single(result.Errors).Field);
    }

    [Fact]
    public void Perplexity_ReasoningAndCitationsAreOutput()
    {
        UsageParseResult result = Normalize("perplexity", """
            {"id":"b8d1","model":"sonar-deep-research","object":"chat.completion","created":1752000000,
             "usage":{"prompt_tokens":20,"completion_tokens":1500,"total_tokens":1520,"citation_tokens":4000,
                      "num_search_queries":12,"reasoning_tokens":9000},
             "choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"..."}}]}
            """);

        // 1,500 completion + 9,000 reasoning + 4,000 citation = 14,500 output; the 12 search queries are web searches
        // (sonar-deep-research bills them per thousand, as genai-prices' extractor reads them).
        Assert.Equal(new CanonicalUsage { InputTokens = 20, OutputTokens = 14_500, ReasoningTokens = 9000, WebSearches = 12 }
            .With(UsageUnits.Get("output_citation_tokens"), 4000), result.Usage);
    }
}
