using System.Text.Json;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;

namespace LlmCost.Core.Tests.Usage;

/// <summary>
/// Full response bodies as each provider's API returns them. Expected canonical numbers are worked out by hand
/// from each provider's documented convention (see the comment on each test).
/// </summary>
public sealed class UsageNormalizerTests
{
    internal const string OpenAiChatBody = """
        {
          "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
          "object": "chat.completion",
          "created": 1741570283,
          "model": "gpt-4o-2024-08-06",
          "choices": [
            {
              "index": 0,
              "message": { "role": "assistant", "content": "The capital of France is Paris.", "refusal": null, "annotations": [] },
              "logprobs": null,
              "finish_reason": "stop"
            }
          ],
          "usage": {
            "prompt_tokens": 1117,
            "completion_tokens": 46,
            "total_tokens": 1163,
            "prompt_tokens_details": { "cached_tokens": 1024, "audio_tokens": 0 },
            "completion_tokens_details": { "reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0 }
          },
          "service_tier": "default",
          "system_fingerprint": "fp_fc9f1d7035"
        }
        """;

    internal const string OpenAiReasoningChatBody = """
        {
          "id": "chatcmpl-BX2vKmJ0rNq3zDgS7Lw6c1pQe9ZfT",
          "object": "chat.completion",
          "created": 1747300000,
          "model": "o3-2025-04-16",
          "choices": [ { "index": 0, "message": { "role": "assistant", "content": "42" }, "finish_reason": "stop" } ],
          "usage": {
            "prompt_tokens": 2500,
            "completion_tokens": 1380,
            "total_tokens": 3880,
            "prompt_tokens_details": { "cached_tokens": 1920, "audio_tokens": 0 },
            "completion_tokens_details": { "reasoning_tokens": 1024, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0 }
          },
          "service_tier": "default"
        }
        """;

    internal const string OpenAiAudioChatBody = """
        {
          "id": "chatcmpl-AUDIO1234",
          "object": "chat.completion",
          "created": 1733000000,
          "model": "gpt-4o-audio-preview-2024-12-17",
          "choices": [ { "index": 0, "message": { "role": "assistant", "content": null, "audio": { "id": "audio_abc", "expires_at": 1733003600, "data": "UklGRg==", "transcript": "Hi!" } }, "finish_reason": "stop" } ],
          "usage": {
            "prompt_tokens": 80,
            "completion_tokens": 130,
            "total_tokens": 210,
            "prompt_tokens_details": { "cached_tokens": 0, "audio_tokens": 45, "text_tokens": 35, "image_tokens": 0 },
            "completion_tokens_details": { "reasoning_tokens": 0, "audio_tokens": 104, "text_tokens": 26, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0 }
          }
        }
        """;

    internal const string OpenAiResponsesBody = """
        {
          "id": "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41",
          "object": "response",
          "created_at": 1741476777,
          "status": "completed",
          "error": null,
          "model": "o3-2025-04-16",
          "output": [
            { "type": "reasoning", "id": "rs_67ccd3b2", "summary": [] },
            { "type": "message", "id": "msg_67ccd3c4", "status": "completed", "role": "assistant",
              "content": [ { "type": "output_text", "text": "Done.", "annotations": [] } ] }
          ],
          "reasoning": { "effort": "medium", "summary": null },
          "usage": {
            "input_tokens": 3210,
            "input_tokens_details": { "cached_tokens": 2048 },
            "output_tokens": 905,
            "output_tokens_details": { "reasoning_tokens": 640 },
            "total_tokens": 4115
          }
        }
        """;

    internal const string AzureChatBody = """
        {
          "choices": [
            {
              "content_filter_results": { "hate": { "filtered": false, "severity": "safe" }, "violence": { "filtered": false, "severity": "safe" } },
              "finish_reason": "stop",
              "index": 0,
              "message": { "content": "Sure.", "role": "assistant" }
            }
          ],
          "created": 1741600000,
          "id": "chatcmpl-AzUrE0000000000000000000000",
          "model": "gpt-4o-2024-11-20",
          "object": "chat.completion",
          "prompt_filter_results": [ { "prompt_index": 0, "content_filter_results": { "hate": { "filtered": false, "severity": "safe" } } } ],
          "system_fingerprint": "fp_ee1d74bde0",
          "usage": {
            "completion_tokens": 250,
            "completion_tokens_details": { "accepted_prediction_tokens": 0, "audio_tokens": 0, "reasoning_tokens": 0, "rejected_prediction_tokens": 0 },
            "prompt_tokens": 6400,
            "prompt_tokens_details": { "audio_tokens": 0, "cached_tokens": 5120 },
            "total_tokens": 6650
          }
        }
        """;

    internal const string AnthropicBody = """
        {
          "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
          "type": "message",
          "role": "assistant",
          "model": "claude-sonnet-4-20250514",
          "content": [ { "type": "text", "text": "Hello! How can I help?" } ],
          "stop_reason": "end_turn",
          "stop_sequence": null,
          "usage": {
            "input_tokens": 1000,
            "cache_creation_input_tokens": 800,
            "cache_read_input_tokens": 2000,
            "cache_creation": { "ephemeral_5m_input_tokens": 500, "ephemeral_1h_input_tokens": 300 },
            "output_tokens": 400,
            "service_tier": "standard"
          }
        }
        """;

    internal const string AnthropicWebSearchBody = """
        {
          "id": "msg_01WebSearchXyz",
          "type": "message",
          "role": "assistant",
          "model": "claude-sonnet-4-20250514",
          "content": [ { "type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search", "input": { "query": "weather" } } ],
          "stop_reason": "end_turn",
          "stop_sequence": null,
          "usage": {
            "input_tokens": 6039,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 931,
            "server_tool_use": { "web_search_requests": 2 },
            "service_tier": "standard"
          }
        }
        """;

    internal const string GeminiBody = """
        {
          "candidates": [
            {
              "content": { "parts": [ { "text": "Here is the summary..." } ], "role": "model" },
              "finishReason": "STOP",
              "index": 0
            }
          ],
          "usageMetadata": {
            "promptTokenCount": 12000,
            "candidatesTokenCount": 350,
            "totalTokenCount": 13550,
            "cachedContentTokenCount": 8000,
            "promptTokensDetails": [ { "modality": "TEXT", "tokenCount": 11000 }, { "modality": "AUDIO", "tokenCount": 1000 } ],
            "cacheTokensDetails": [ { "modality": "TEXT", "tokenCount": 7400 }, { "modality": "AUDIO", "tokenCount": 600 } ],
            "candidatesTokensDetails": [ { "modality": "TEXT", "tokenCount": 350 } ],
            "thoughtsTokenCount": 1200
          },
          "modelVersion": "gemini-2.5-flash",
          "responseId": "mK2xaPq3Lc2hnvgPzaHY8Qs"
        }
        """;

    internal const string BedrockConverseBody = """
        {
          "output": { "message": { "role": "assistant", "content": [ { "text": "Done." } ] } },
          "stopReason": "end_turn",
          "usage": { "inputTokens": 1500, "outputTokens": 300, "totalTokens": 5300, "cacheReadInputTokens": 3000, "cacheWriteInputTokens": 500 },
          "metrics": { "latencyMs": 1234 }
        }
        """;

    private static UsageParseResult Normalize(string? provider, string json)
    {
        using JsonDocument doc = JsonDocument.Parse(json);
        return UsageNormalizer.Normalize(provider, doc.RootElement);
    }

    [Theory]
    [InlineData("openai")]
    [InlineData(null)]
    public void OpenAiChat_PromptTokensAlreadyIncludeCachedTokens(string? provider)
    {
        // prompt_tokens 1117 includes the 1024 cached: canonical input stays 1117 (NOT 1117 + 1024).
        UsageParseResult result = Normalize(provider, OpenAiChatBody);

        Assert.True(result.IsValid, result.ErrorSummary);
        Assert.Equal(UsageShape.OpenAiChat, result.Shape);
        Assert.Equal(new CanonicalUsage { InputTokens = 1117, CacheReadTokens = 1024, OutputTokens = 46 }, result.Usage);
    }

    [Fact]
    public void OpenAiChat_ReasoningIsPartOfCompletion()
    {
        // completion_tokens 1380 includes reasoning 1024: output stays 1380.
        UsageParseResult result = Normalize("openai", OpenAiReasoningChatBody);

        Assert.Equal(new CanonicalUsage
        {
            InputTokens = 2500, CacheReadTokens = 1920, OutputTokens = 1380, ReasoningTokens = 1024,
        }, result.Usage);
    }

    [Fact]
    public void OpenAiChat_AudioDetails()
    {
        UsageParseResult result = Normalize("openai", OpenAiAudioChatBody);

        // The details' text_tokens are mapped too (35 text + 45 audio = 80 prompt; 26 text + 104 audio = 130 output).
        Assert.Equal(new CanonicalUsage
        {
            InputTokens = 80, InputAudioTokens = 45, OutputTokens = 130, OutputAudioTokens = 104,
        }
        .With(UsageUnits.Get("input_text_tokens"), 35).With(UsageUnits.Get("output_text_tokens"), 26), result.Usage);
    }

    [Fact]
    public void OpenAiResponses_InputTokensIncludeCached()
    {
        UsageParseResult result = Normalize("openai", OpenAiResponsesBody);

        Assert.Equal(UsageShape.OpenAiResponses, result.Shape);
        Assert.Equal(new CanonicalUsage
        {
            InputTokens = 3210, CacheReadTokens = 2048, OutputTokens = 905, ReasoningTokens = 640,
        }, result.Usage);
    }

    [Theory]
    [InlineData("azure")]
    [InlineData(null)]
    public void AzureOpenAiChat_SameConventionAsOpenAi(string? provider)
    {
        UsageParseResult result = Normalize(provider, AzureChatBody);

        Assert.Equal(new CanonicalUsage { InputTokens = 6400, CacheReadTokens = 5120, OutputTokens = 250 }, result.Usage);
    }

    [Theory]
    [InlineData("anthropic")]
    [InlineData(null)]
    public void Anthropic_InputTokensExcludeCache_SoTheyAreAddedBack(string? provider)
    {
        // input = 1000 uncached + 2000 cache read + 800 cache written (500 with 5m TTL + 300 with 1h TTL) = 3800.
        UsageParseResult result = Normalize(provider, AnthropicBody);

        Assert.True(result.IsValid, result.ErrorSummary);
        Assert.Equal(UsageShape.Anthropic, result.Shape);
        Assert.Equal(new CanonicalUsage
        {
            InputTokens = 3800, CacheReadTokens = 2000, CacheWriteTokens = 800, CacheWrite1hTokens = 300, OutputTokens = 400,
        }.With(UsageUnits.Get("cache_write_5m_tokens"), 500), result.Usage);
    }

    [Fact]
    public void Anthropic_WebSearches()
    {
        UsageParseResult result = Normalize("anthropic", AnthropicWebSearchBody);

        Assert.Equal(new CanonicalUsage { InputTokens = 6039, OutputTokens = 931, WebSearches = 2 }, result.Usage);
    }

    [Fact]
    public void Anthropic_CacheCreationSplitWithoutTotal_IsSummed()
    {
        UsageParseResult result = Normalize("anthropic", """
            {"input_tokens":10,"cache_creation":{"ephemeral_5m_input_tokens":20,"ephemeral_1h_input_tokens":30},"output_tokens":5}
            """);

        Assert.Equal(new CanonicalUsage
        {
            InputTokens = 60, CacheWriteTokens = 50, CacheWrite1hTokens = 30, OutputTokens = 5,
        }.With(UsageUnits.Get("cache_write_5m_tokens"), 20), result.Usage);
    }

    [Fact]
    public void Anthropic_SplitDisagreeingWithTotal_IsAnError()
    {
        UsageParseResult result = Normalize("anthropic", """
            {"input_tokens":10,"cache_creation_input_tokens":40,"cache_creation":{"ephemeral_5m_input_tokens":20,"ephemeral_1h_input_tokens":30},"output_tokens":5}
            """);

        Assert.Equal("raw_usage.cache_creation", Assert.Single(result.Errors).Field);
    }

    [Theory]
    [InlineData("google")]
    [InlineData(null)]
    public void Gemini_ThoughtsAreOutput_CachedIsPartOfPrompt(string? provider)
    {
        // promptTokenCount 12000 already includes the 8000 cached (600 of them audio); output = 350 candidates +
        // 1200 thoughts = 1550.
        UsageParseResult result = Normalize(provider, GeminiBody);

        Assert.True(result.IsValid, result.ErrorSummary);
        Assert.Equal(UsageShape.Gemini, result.Shape);
        // By modality too: 11000 TEXT + 1000 AUDIO prompt, 7400 TEXT + 600 AUDIO cached, 350 TEXT candidates.
        Assert.Equal(new CanonicalUsage
        {
            InputTokens = 12000, CacheReadTokens = 8000, InputAudioTokens = 1000, CacheAudioReadTokens = 600,
            OutputTokens = 1550, ReasoningTokens = 1200,
        }
        .With(UsageUnits.Get("input_text_tokens"), 11000).With(UsageUnits.Get("cache_text_read_tokens"), 7400)
        .With(UsageUnits.Get("output_text_tokens"), 350), result.Usage);
    }

    [Fact]
    public void Gemini_ToolUsePromptTokensAreExtraInput()
    {
        UsageParseResult result = Normalize("google", """
            {"usageMetadata":{"promptTokenCount":100,"toolUsePromptTokenCount":40,"candidatesTokenCount":20,"totalTokenCount":160}}
            """);

        // Tool-use prompt tokens are input, and input tool tokens (genai-prices' input_tool_tokens).
        Assert.Equal(new CanonicalUsage { InputTokens = 140, OutputTokens = 20 }.With(UsageUnits.Get("input_tool_tokens"), 40), result.Usage);
    }

    [Theory]
    [InlineData("aws")]
    [InlineData(null)]
    public void BedrockConverse_InputTokensExcludeCache(string? provider)
    {
        // totalTokens 5300 = 1500 + 300 + 3000 + 500: input = 1500 + 3000 + 500 = 5000.
        UsageParseResult result = Normalize(provider, BedrockConverseBody);

        Assert.Equal(UsageShape.BedrockConverse, result.Shape);
        Assert.Equal(new CanonicalUsage
        {
            InputTokens = 5000, CacheReadTokens = 3000, CacheWriteTokens = 500, OutputTokens = 300,
        }, result.Usage);
    }

    [Fact]
    public void UsageObjectAlone_IsAcceptedToo()
    {
        UsageParseResult result = Normalize("openai", """{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}""");

        Assert.Equal(new CanonicalUsage { InputTokens = 10, OutputTokens = 2 }, result.Usage);
    }

    [Fact]
    public void ProviderThatDoesNotReturnTheShape_IsAnError()
    {
        UsageParseResult result = Normalize("openai", AnthropicBody);

        FieldError error = Assert.Single(result.Errors);
        Assert.Equal("raw_usage.usage", error.Field);
        Assert.Contains("Anthropic", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownShape_IsAnError()
    {
        UsageParseResult result = Normalize(null, """{"tokens_in":10,"tokens_out":5}""");

        FieldError error = Assert.Single(result.Errors);
        Assert.Equal("raw_usage", error.Field);
        Assert.Contains("not a usage object", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MixedAnthropicAndResponsesKeys_IsAmbiguous()
    {
        UsageParseResult result = Normalize(null, """{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":3,"input_tokens_details":{"cached_tokens":3}}""");

        Assert.Contains("cannot tell", Assert.Single(result.Errors).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":11}}""", "raw_usage.prompt_tokens_details.cached_tokens")]
    [InlineData("""{"prompt_tokens":10,"completion_tokens":5,"completion_tokens_details":{"reasoning_tokens":6}}""", "raw_usage.completion_tokens_details.reasoning_tokens")]
    [InlineData("""{"prompt_tokens":-10,"completion_tokens":5}""", "raw_usage.prompt_tokens")]
    [InlineData("""{"prompt_tokens":"10","completion_tokens":5}""", "raw_usage.prompt_tokens")]
    [InlineData("""{"completion_tokens":5}""", "raw_usage.prompt_tokens")]
    [InlineData("""{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":7}""", "raw_usage.prompt_tokens_details")]
    [InlineData("""{"input_tokens":3.5,"output_tokens":5,"cache_read_input_tokens":1}""", "raw_usage.input_tokens")]
    [InlineData("""{"usageMetadata":{"promptTokenCount":10,"cachedContentTokenCount":11}}""", "raw_usage.usageMetadata.cachedContentTokenCount")]
    [InlineData("""{"usageMetadata":{"promptTokenCount":10,"promptTokensDetails":[{"modality":"AUDIO","tokenCount":-1}]}}""", "raw_usage.usageMetadata.promptTokensDetails[0].tokenCount")]
    [InlineData("""{"inputTokens":10}""", "raw_usage.outputTokens")]
    public void BadProviderUsage_NamesTheProvidersField(string json, string field)
    {
        UsageParseResult result = Normalize(null, json);

        Assert.False(result.IsValid);
        Assert.Equal(field, Assert.Single(result.Errors).Field);
    }

    [Fact]
    public void NullDetails_AreAbsent()
    {
        UsageParseResult result = Normalize("openai", """{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":null}""");

        Assert.Equal(new CanonicalUsage { InputTokens = 10, OutputTokens = 5 }, result.Usage);
    }

    [Fact]
    public void DeepSeekTopLevelCacheHits_AreCacheReads()
    {
        UsageParseResult result = Normalize("deepseek", """
            {"prompt_tokens":1200,"completion_tokens":80,"total_tokens":1280,"prompt_cache_hit_tokens":1024,"prompt_cache_miss_tokens":176}
            """);

        Assert.Equal(new CanonicalUsage { InputTokens = 1200, CacheReadTokens = 1024, OutputTokens = 80 }, result.Usage);
    }
}
