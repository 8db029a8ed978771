using System.Diagnostics.Metrics;
using System.Text.Json;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;

namespace LlmCost.Core.Tests.Usage;

/// <summary>
/// Provider shapes genai-prices' extractors do not read (or read less of), each worked out by hand from the
/// provider's documented convention. The common shapes are held to the reference by the CLI's corpus differential
/// test; these are the rest.
/// </summary>
public sealed class ProviderShapesTests
{
    private static readonly DateTimeOffset s_at = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private static UsageParseResult Normalize(string? provider, string json)
    {
        using JsonDocument doc = JsonDocument.Parse(json);
        return UsageNormalizer.Normalize(provider, doc.RootElement);
    }

    private static long Unit(UsageParseResult result, string key) => result.Usage!.Get(key);

    [Fact]
    public void AnthropicWithThinkingServerToolsAndServiceTier_IsAnthropic_NotAMixWithResponses()
    {
        // A current Messages body: output_tokens_details, server_tool_use (search + fetch), service_tier. Before the
        // lattice this was refused as "mixes Anthropic keys with OpenAI Responses keys".
        UsageParseResult result = Normalize("anthropic", """
            {"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],
             "usage":{"input_tokens":2100,"cache_creation_input_tokens":0,"cache_read_input_tokens":4000,
                      "cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":900,
                      "output_tokens_details":{"thinking_tokens":600},"server_tool_use":{"web_search_requests":3,"web_fetch_requests":2},
                      "service_tier":"standard","inference_geo":"us"}}
            """);

        Assert.True(result.IsValid, result.ErrorSummary);
        Assert.Equal(UsageShape.Anthropic, result.Shape);
        Assert.Equal(6100, result.Usage!.InputTokens);
        Assert.Equal(600, result.Usage.ReasoningTokens);
        Assert.Equal(3, result.Usage.WebSearches);
        Assert.Empty(result.IgnoredFields);
    }

    [Fact]
    public void AnthropicCompaction_IsItsOwnPass_PricedAtItsOwnTier()
    {
        // claude-sonnet-4-5: $3 / $15 per MTok up to 200k input, $6 / $22.50 above. The compaction pass read 190,000
        // (below the tier), the message pass 30,000: summed they would be 220,000 and wrongly all at the higher tier.
        UsageParseResult result = Normalize("anthropic", """
            {"usage":{"input_tokens":30000,"output_tokens":1000,"cache_read_input_tokens":0,"cache_creation_input_tokens":0,
                      "iterations":[{"type":"compaction","input_tokens":190000,"output_tokens":2000,"cache_read_input_tokens":0,"cache_creation_input_tokens":0},
                                    {"type":"message","input_tokens":30000,"output_tokens":1000,"cache_read_input_tokens":0,"cache_creation_input_tokens":0},
                                    {"type":"advisor_message","model":"claude-opus-4-6","input_tokens":9000,"output_tokens":700}]}}
            """);

        Assert.True(result.IsValid, result.ErrorSummary);
        Assert.Equal(220_000, result.Usage!.InputTokens);
        Assert.Equal(3000, result.Usage.OutputTokens);
        Assert.Equal(2, result.Usage.Passes.Count);
        Assert.Contains("iterations[advisor_message]", result.IgnoredFields);

        PriceQuote quote = PricingEngine.Default.Price(new PriceRequest("anthropic", "claude-sonnet-4-5", s_at, result.Usage));
        // (190,000 + 30,000) x $3 + (2,000 + 1,000) x $15 = 0.66 + 0.045.
        Assert.Equal(0.705m, quote.CostUsd);
        Assert.Equal(220_000, Assert.Single(quote.Breakdown, c => c.Class == "input_mtok").Quantity);
    }

    [Fact]
    public void GeminiImageGeneration_IsPricedAtTheImageOutputRate()
    {
        // gemini-2.5-flash-image: 1,290 IMAGE output tokens at $30/MTok (one image), not at the $2.50 text rate: the
        // old ten-class model priced this 12x too low.
        UsageParseResult result = Normalize("google", """
            {"candidates":[],"modelVersion":"gemini-2.5-flash-image",
             "usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":1290,"totalTokenCount":1302,
                              "promptTokensDetails":[{"modality":"TEXT","tokenCount":12}],
                              "candidatesTokensDetails":[{"modality":"IMAGE","tokenCount":1290}]}}
            """);

        PriceQuote quote = PricingEngine.Default.Price(new PriceRequest("google", "gemini-2.5-flash-image", s_at, result.Usage!));

        Assert.Equal(0.0387036m, quote.CostUsd);
    }

    [Fact]
    public void GeminiSnakeCase_FromTheSdks_IsRead()
    {
        UsageParseResult result = Normalize("google", """
            {"usage_metadata":{"prompt_token_count":100,"cached_content_token_count":40,"candidates_token_count":20,"thoughts_token_count":5,
                               "total_token_count":125,"prompt_tokens_details":[{"modality":"AUDIO","token_count":30},{"modality":"TEXT","token_count":70}]}}
            """);

        Assert.True(result.IsValid, result.ErrorSummary);
        Assert.Equal(new CanonicalUsage { InputTokens = 100, CacheReadTokens = 40, OutputTokens = 25, ReasoningTokens = 5, InputAudioTokens = 30 }
            .With(UsageUnits.Get("input_text_tokens"), 70), result.Usage);
    }

    [Fact]
    public void GeminiUnknownModality_IsIgnoredAndReported()
    {
        UsageParseResult result = Normalize("google", """
            {"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":2,"promptTokensDetails":[{"modality":"HOLOGRAM","tokenCount":4},{"modality":"TEXT","tokenCount":6}]}}
            """);

        Assert.True(result.IsValid, result.ErrorSummary);
        Assert.Equal(["promptTokensDetails[HOLOGRAM]"], result.IgnoredFields);
    }

    [Fact]
    public void BedrockConverse_CacheDetails_SplitWritesByTtl()
    {
        // global.anthropic.claude-opus-5-5 prices 1-hour writes apart.
        UsageParseResult result = Normalize("aws", """
            {"output":{},"stopReason":"end_turn","usage":{"inputTokens":100,"outputTokens":50,"totalTokens":1650,"cacheReadInputTokens":500,
             "cacheWriteInputTokens":1000,"cacheDetails":[{"ttl":"1h","inputTokens":600},{"ttl":"5m","inputTokens":400}]},"metrics":{"latencyMs":900}}
            """);

        Assert.True(result.IsValid, result.ErrorSummary);
        Assert.Equal(1600, result.Usage!.InputTokens);
        Assert.Equal(600, result.Usage.CacheWrite1hTokens);
        Assert.Equal(400, Unit(result, "cache_write_5m_tokens"));
    }

    [Fact]
    public void BedrockInvokeModelHeaders_ForAnyModel()
    {
        // InvokeModel answers every model's body as is; the token counts are response headers (strings).
        UsageParseResult result = Normalize("aws", """
            {"Content-Type":"application/json","X-Amzn-Bedrock-Input-Token-Count":"1200","X-Amzn-Bedrock-Output-Token-Count":"300",
             "X-Amzn-Bedrock-Cache-Read-Input-Token-Count":"800","X-Amzn-Bedrock-Invocation-Latency":"912","x-amzn-RequestId":"abc"}
            """);

        Assert.True(result.IsValid, result.ErrorSummary);
        Assert.Equal(UsageShape.BedrockInvokeHeaders, result.Shape);
        Assert.Equal(new CanonicalUsage { InputTokens = 2000, CacheReadTokens = 800, OutputTokens = 300 }, result.Usage);
    }

    [Fact]
    public void BedrockInvokeModelHeaders_BadCount_NamesTheHeader()
    {
        UsageParseResult result = Normalize("aws", """{"X-Amzn-Bedrock-Input-Token-Count":"12x","X-Amzn-Bedrock-Output-Token-Count":"3"}""");

        Assert.Equal("raw_usage.X-Amzn-Bedrock-Input-Token-Count", Assert.Single(result.Errors).Field);
    }

    [Fact]
    public void BedrockLlamaAndTitanBodies()
    {
        UsageParseResult llama = Normalize("aws", """{"generation":"Hi","prompt_token_count":42,"generation_token_count":7,"stop_reason":"stop"}""");
        UsageParseResult titan = Normalize("aws", """{"inputTextTokenCount":15,"results":[{"tokenCount":40,"outputText":"...","completionReason":"FINISH"},{"tokenCount":2}]}""");
        UsageParseResult embed = Normalize("aws", """{"embedding":[0.1,0.2],"inputTextTokenCount":9}""");

        Assert.Equal(new CanonicalUsage { InputTokens = 42, OutputTokens = 7 }, llama.Usage);
        Assert.Equal(new CanonicalUsage { InputTokens = 15, OutputTokens = 42 }, titan.Usage);
        Assert.Equal(new CanonicalUsage { InputTokens = 9 }, embed.Usage);
    }

    [Fact]
    public void NovaInvokeModelBody_CacheCountNames()
    {
        UsageParseResult result = Normalize("aws", """{"output":{},"usage":{"inputTokens":10,"outputTokens":5,"totalTokens":45,"cacheReadInputTokenCount":20,"cacheWriteInputTokenCount":10}}""");

        Assert.Equal(new CanonicalUsage { InputTokens = 40, CacheReadTokens = 20, CacheWriteTokens = 10, OutputTokens = 5 }, result.Usage);
    }

    [Fact]
    public void TranscriptionByDuration_IsInputAudioSeconds()
    {
        // whisper-1: $0.006 per minute = $0.36 per audio hour; 90 s = $0.009.
        UsageParseResult result = Normalize("openai", """{"text":"hello","usage":{"type":"duration","seconds":90}}""");

        Assert.True(result.IsValid, result.ErrorSummary);
        Assert.Equal(90, Unit(result, "input_audio_seconds"));
        PriceQuote quote = PricingEngine.Default.Price(new PriceRequest("openai", "whisper-1", s_at, result.Usage!));
        Assert.True(quote.Priced, quote.Reason);
        Assert.Equal(0.009m, quote.CostUsd);
    }

    [Fact]
    public void GroqWhisper_BillsAtLeastTenSeconds_AsGenaiPrices()
    {
        CanonicalUsage usage = CanonicalUsageParser.Parse("""{"audio_seconds":4,"input_audio_seconds":4}""").Usage!;

        PriceQuote quote = PricingEngine.Default.Price(new PriceRequest("groq", "whisper-large-v3", s_at, usage));

        Assert.Equal(10, Assert.Single(quote.Breakdown, c => c.Class == "input_audio_hours").Quantity);
    }

    [Fact]
    public void XAiResponses_ServerSideToolsAndTheirCost()
    {
        UsageParseResult result = Normalize("x-ai", """
            {"id":"r1","object":"response","model":"grok-4-0709","output":[],
             "usage":{"input_tokens":3000,"input_tokens_details":{"cached_tokens":1000},"output_tokens":400,"output_tokens_details":{"reasoning_tokens":300},
                      "total_tokens":3400,"num_sources_used":0,"num_server_side_tools_used":4,
                      "server_side_tool_usage":{"web_search":2,"x_search":1,"code_execution":1},"cost_in_usd_ticks":158000000}}
            """);

        Assert.True(result.IsValid, result.ErrorSummary);
        Assert.Equal(2, result.Usage!.WebSearches);
        Assert.Equal(1, Unit(result, "social_searches"));
        Assert.Equal(1, Unit(result, "code_executions"));
        Assert.Equal(0.0158m, result.ReportedCostUsd);
    }

    [Fact]
    public void ResponsesBody_CountsHostedToolCalls()
    {
        // Two searches (an open_page action is part of a search), one file search.
        UsageParseResult result = Normalize("openai", """
            {"object":"response","output":[{"type":"web_search_call","action":{"type":"search","query":"a"}},{"type":"web_search_call","action":{"type":"open_page","url":"u"}},
                                           {"type":"web_search_call"},{"type":"file_search_call"},{"type":"message"}],
             "usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":0},"output_tokens":5,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":15}}
            """);

        Assert.Equal(2, result.Usage!.WebSearches);
        Assert.Equal(1, Unit(result, "storage_searches"));
    }

    [Fact]
    public void CohereRerank_SearchUnits()
    {
        UsageParseResult result = Normalize("cohere", """{"results":[],"meta":{"api_version":{"version":"2"},"billed_units":{"search_units":3}}}""");

        Assert.True(result.IsValid, result.ErrorSummary);
        Assert.Equal(3, Unit(result, "rerank_searches"));
    }

    [Fact]
    public void OpenRouterCost_WithYourOwnKey_AddsTheUpstreamCost()
    {
        UsageParseResult result = Normalize("openrouter", """
            {"usage":{"prompt_tokens":100,"completion_tokens":10,"total_tokens":110,"cost":0.0005,"is_byok":true,
                      "cost_details":{"upstream_inference_cost":0.01}}}
            """);

        Assert.Equal(0.0105m, result.ReportedCostUsd);
    }

    [Fact]
    public void PerplexityCostObject_IsTheReportedCost()
    {
        UsageParseResult result = Normalize("perplexity", """
            {"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30,"search_context_size":"low",
                      "cost":{"input_tokens_cost":0.00001,"output_tokens_cost":0.00002,"request_cost":0.005,"total_cost":0.00503}}}
            """);

        Assert.Equal(0.00503m, result.ReportedCostUsd);
    }

    [Fact]
    public void MistralOcr_AnnotatedPages()
    {
        UsageParseResult plain = Normalize("mistral", """{"pages":[],"model":"mistral-ocr-2505","document_annotation":null,"usage_info":{"pages_processed":12,"doc_size_bytes":1000}}""");
        UsageParseResult annotated = Normalize("mistral", """{"pages":[],"model":"mistral-ocr-2505","document_annotation":"{}","usage_info":{"pages_processed":12,"doc_size_bytes":1000}}""");

        Assert.Equal(12, Unit(plain, "input_document_pages"));
        Assert.Equal(0, Unit(plain, "input_annotated_document_pages"));
        Assert.Equal(12, Unit(annotated, "input_annotated_document_pages"));
    }

    [Fact]
    public void UnknownFields_AreIgnoredCountedAndNeverRejected()
    {
        var seen = new List<(string Flavor, string Field)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == UsageMetrics.MeterName && instrument.Name == UsageMetrics.UnknownFieldsName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            string? flavor = null, field = null;
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                flavor = tag.Key == "flavor" ? (string?)tag.Value : flavor;
                field = tag.Key == "field" ? (string?)tag.Value : field;
            }

            lock (seen)
            {
                seen.Add((flavor!, field!));
            }
        });
        listener.Start();

        UsageParseResult result = Normalize("openai", """
            {"usage":{"prompt_tokens":100,"completion_tokens":10,"total_tokens":110,"brand_new_tokens":5,
                      "prompt_tokens_details":{"cached_tokens":20,"hologram_tokens":3},"completion_tokens_details":{"reasoning_tokens":0}}}
            """);

        Assert.True(result.IsValid, result.ErrorSummary);
        Assert.Equal(["brand_new_tokens", "prompt_tokens_details.hologram_tokens"], result.IgnoredFields.Order());
        lock (seen)
        {
            Assert.Contains(("openai-chat", "brand_new_tokens"), seen);
            Assert.Contains(("openai-chat", "prompt_tokens_details.hologram_tokens"), seen);
        }
    }

    [Fact]
    public void KnownFieldWithAWrongValue_IsStillAnError()
    {
        UsageParseResult result = Normalize("openai", """{"usage":{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":11}}}""");

        Assert.Equal("raw_usage.usage.prompt_tokens_details.cached_tokens", Assert.Single(result.Errors).Field);
    }

    [Fact]
    public void DuplicateKeyInRawUsage_IsRefused_NamingIt()
    {
        UsageParseResult result = Normalize("openai", """{"usage":{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":1,"cached_tokens":9}}}""");

        Assert.Equal("raw_usage.usage.prompt_tokens_details.cached_tokens", Assert.Single(result.Errors).Field);
        Assert.Contains("more than once", result.Errors[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OpenAiAudioWithCachedTokens_OnAModelPricingCachedAudio_RefusesToGuessTheOverlap()
    {
        // Chat completions say how many tokens were cached and how many were audio, never how many cached ones
        // were audio; gpt-realtime prices cached audio apart, so the price is unknown (as genai-prices refuses).
        UsageParseResult result = Normalize("openai", """
            {"usage":{"prompt_tokens":1000,"completion_tokens":10,"prompt_tokens_details":{"cached_tokens":500,"audio_tokens":600}}}
            """);

        Assert.True(result.IsValid, result.ErrorSummary);
        PriceQuote quote = PricingEngine.Default.Price(new PriceRequest("openai", "gpt-realtime", s_at, result.Usage!));
        Assert.False(quote.Priced);
        Assert.Contains("cache_audio_read_tokens", quote.Reason, StringComparison.Ordinal);
    }
}
