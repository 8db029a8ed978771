using System.Text.Json;

namespace LlmCost.Core.Usage;

/// <summary>
/// Turns a provider's own usage object, as its API returns it, into <see cref="CanonicalUsage"/>.
/// </summary>
/// <remarks>
/// The cached-token convention differs per provider and getting it wrong is the most common cost bug in public
/// trackers (LiteLLM #6215, #11789; Langfuse #14249):
/// <list type="bullet">
/// <item>OpenAI / Azure OpenAI chat: <c>prompt_tokens</c> INCLUDES <c>prompt_tokens_details.cached_tokens</c>
/// (and audio); <c>completion_tokens</c> INCLUDES <c>completion_tokens_details.reasoning_tokens</c> and audio.</item>
/// <item>OpenAI / Azure Responses: <c>input_tokens</c> INCLUDES <c>input_tokens_details.cached_tokens</c>;
/// <c>output_tokens</c> INCLUDES <c>output_tokens_details.reasoning_tokens</c>.</item>
/// <item>Anthropic Messages: <c>input_tokens</c> EXCLUDES <c>cache_creation_input_tokens</c> and
/// <c>cache_read_input_tokens</c>, so canonical input is their sum; <c>cache_creation</c> splits writes into
/// 5-minute and 1-hour TTL; <c>server_tool_use.web_search_requests</c> counts searches.</item>
/// <item>Gemini <c>usageMetadata</c>: <c>promptTokenCount</c> INCLUDES <c>cachedContentTokenCount</c>;
/// <c>toolUsePromptTokenCount</c> is extra input; <c>candidatesTokenCount</c> EXCLUDES
/// <c>thoughtsTokenCount</c>, and thoughts are billed as output, so output = candidates + thoughts.</item>
/// <item>Bedrock Converse: <c>inputTokens</c> EXCLUDES <c>cacheReadInputTokens</c> and
/// <c>cacheWriteInputTokens</c> (<c>totalTokens</c> = all four).</item>
/// <item>xAI (provider <c>x-ai</c>): chat shape, but <c>completion_tokens</c> EXCLUDES reasoning, which is added as
/// output; Perplexity: top-level <c>reasoning_tokens</c> and <c>citation_tokens</c> are added as output.</item>
/// </list>
/// These follow the extractors in genai-prices 0.1.8. Unknown extra keys are ignored: providers add fields all
/// the time and none of them changes the meaning of the ones read here.
/// </remarks>
public static class UsageNormalizer
{
    private static readonly UsageShape[] _openAiShapes = [UsageShape.OpenAiChat, UsageShape.OpenAiResponses];

    /// <summary>
    /// Normalises <paramref name="raw"/>, which may be the usage object itself or a whole response body holding it
    /// (under <c>usage</c>, or <c>usageMetadata</c> for Gemini).
    /// </summary>
    /// <param name="provider">Provider id ("openai", "azure", "anthropic", "google", "aws", ...). It restricts the
    /// shapes accepted; null or an id with no known restriction = detect the shape from the keys.</param>
    /// <param name="raw">The provider's usage object or response body.</param>
    /// <param name="fieldPrefix">Path of <paramref name="raw"/> in the request, used in error field names.</param>
    public static UsageParseResult Normalize(string? provider, JsonElement raw, string fieldPrefix = "raw_usage")
    {
        ArgumentNullException.ThrowIfNull(fieldPrefix);
        if (raw.ValueKind != JsonValueKind.Object)
        {
            return UsageParseResult.Failure(fieldPrefix,
                $"must be a JSON object, got {UsageCounts.Describe(raw.ValueKind)}");
        }

        (JsonElement usage, string path) = Unwrap(raw, fieldPrefix);
        IReadOnlyList<UsageShape>? allowed = ShapesFor(provider);
        UsageShape? detected = DetectShape(usage, allowed, out string? problem);
        if (detected is null)
        {
            return UsageParseResult.Failure(path, problem ?? "is not a usage object of any known provider");
        }

        if (allowed is not null && !allowed.Contains(detected.Value))
        {
            return UsageParseResult.Failure(path,
                $"looks like {DisplayName(detected.Value)} usage, which provider '{provider}' does not return " +
                $"(expected {string.Join(" or ", allowed.Select(DisplayName))})", detected);
        }

        return Normalize(detected.Value, usage, path, QuirkOf(provider));
    }

    /// <summary>The shape as people call it, for messages.</summary>
    public static string DisplayName(UsageShape shape) => shape switch
    {
        UsageShape.Canonical => "canonical",
        UsageShape.OpenAiChat => "OpenAI chat completions",
        UsageShape.OpenAiResponses => "OpenAI Responses",
        UsageShape.Anthropic => "Anthropic Messages",
        UsageShape.Gemini => "Gemini usageMetadata",
        UsageShape.BedrockConverse => "Bedrock Converse",
        _ => shape.ToString(),
    };

    /// <summary>Normalises a usage object known to have <paramref name="shape"/>.</summary>
    public static UsageParseResult Normalize(UsageShape shape, JsonElement usage, string fieldPrefix = "raw_usage") =>
        Normalize(shape, usage, fieldPrefix, ChatQuirk.None);

    /// <summary>Providers whose OpenAI-style chat usage departs from OpenAI's convention (as genai-prices 0.1.8 reads them).</summary>
    private enum ChatQuirk
    {
        None,

        /// <summary>xAI: <c>completion_tokens</c> EXCLUDES reasoning; reasoning (in details, or top-level in the native
        /// shape) is billed as output on top; cached prompt tokens may be top-level <c>cached_prompt_text_tokens</c>.</summary>
        XAi,

        /// <summary>Perplexity: top-level <c>reasoning_tokens</c> and <c>citation_tokens</c> are billed as output on top of
        /// <c>completion_tokens</c>. (<c>num_search_queries</c> is covered by the per-request fee, so it is not read as
        /// web searches.)</summary>
        Perplexity,
    }

    private static ChatQuirk QuirkOf(string? provider) => provider?.Trim().ToLowerInvariant() switch
    {
        "x-ai" or "xai" or "grok" => ChatQuirk.XAi,
        "perplexity" => ChatQuirk.Perplexity,
        _ => ChatQuirk.None,
    };

    private static UsageParseResult Normalize(UsageShape shape, JsonElement usage, string fieldPrefix, ChatQuirk quirk)
    {
        ArgumentNullException.ThrowIfNull(fieldPrefix);
        if (usage.ValueKind != JsonValueKind.Object)
        {
            return UsageParseResult.Failure(fieldPrefix,
                $"must be a JSON object, got {UsageCounts.Describe(usage.ValueKind)}", shape);
        }

        var reader = new RawUsageReader(fieldPrefix);
        CanonicalUsage? result = shape switch
        {
            UsageShape.Canonical => null,
            UsageShape.OpenAiChat => OpenAiChat(usage, reader, quirk),
            UsageShape.OpenAiResponses => OpenAiResponses(usage, reader),
            UsageShape.Anthropic => Anthropic(usage, reader),
            UsageShape.Gemini => Gemini(usage, reader),
            UsageShape.BedrockConverse => Bedrock(usage, reader),
            _ => throw new ArgumentOutOfRangeException(nameof(shape), shape, "unknown usage shape"),
        };
        if (shape == UsageShape.Canonical)
        {
            return CanonicalUsageParser.Parse(usage, strict: true, fieldPrefix);
        }

        if (reader.Errors.Count > 0 || result is null)
        {
            return UsageParseResult.Failure(reader.Errors, shape);
        }

        // Safety net: the per-shape checks above name the provider's own fields; anything they missed is caught
        // here under the canonical names.
        return UsageValidator.ToResult(result, shape, fieldPrefix);
    }

    /// <summary>The shapes a provider's APIs return; null when the provider is unknown here (detect freely).</summary>
    public static IReadOnlyList<UsageShape>? ShapesFor(string? provider)
    {
        if (string.IsNullOrWhiteSpace(provider))
        {
            return null;
        }

        return provider.Trim().ToLowerInvariant() switch
        {
            "openai" => _openAiShapes,
            // Azure hosts OpenAI models (chat + Responses) and, in Foundry, Claude with Anthropic's shape.
            "azure" or "azure-openai" or "azure_openai" or "azureopenai" =>
                [UsageShape.OpenAiChat, UsageShape.OpenAiResponses, UsageShape.Anthropic],
            // Anthropic also serves an OpenAI-compatible chat endpoint.
            "anthropic" => [UsageShape.Anthropic, UsageShape.OpenAiChat],
            // Vertex AI serves Gemini, Claude (Anthropic shape) and an OpenAI-compatible endpoint.
            "google" or "gemini" or "google-vertex" or "vertex" or "vertex_ai" or "google-gla" =>
                [UsageShape.Gemini, UsageShape.Anthropic, UsageShape.OpenAiChat],
            // Bedrock: Converse (camelCase) or InvokeModel with Claude's own body.
            "aws" or "bedrock" or "aws-bedrock" or "amazon-bedrock" => [UsageShape.BedrockConverse, UsageShape.Anthropic],
            _ => null,
        };
    }

    /// <summary>Recognises a usage object's shape from its keys; null (with <paramref name="problem"/>) if none fits.</summary>
    public static UsageShape? DetectShape(JsonElement usage, IReadOnlyList<UsageShape>? allowed, out string? problem)
    {
        problem = null;
        if (usage.ValueKind != JsonValueKind.Object)
        {
            problem = $"must be a JSON object, got {UsageCounts.Describe(usage.ValueKind)}";
            return null;
        }

        if (Has(usage, "promptTokenCount", "candidatesTokenCount", "cachedContentTokenCount", "thoughtsTokenCount",
                "totalTokenCount", "toolUsePromptTokenCount"))
        {
            return UsageShape.Gemini;
        }

        if (Has(usage, "inputTokens", "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens"))
        {
            return UsageShape.BedrockConverse;
        }

        if (Has(usage, "prompt_tokens", "completion_tokens"))
        {
            return UsageShape.OpenAiChat;
        }

        if (Has(usage, "input_tokens", "output_tokens"))
        {
            bool anthropic = Has(usage, "cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation",
                "server_tool_use");
            bool responses = Has(usage, "input_tokens_details", "output_tokens_details", "total_tokens");
            if (anthropic && responses)
            {
                problem = "mixes Anthropic keys (cache_creation_input_tokens, cache_read_input_tokens, ...) with " +
                          "OpenAI Responses keys (input_tokens_details, total_tokens, ...): cannot tell whether " +
                          "input_tokens includes cached tokens";
                return null;
            }

            if (anthropic)
            {
                return UsageShape.Anthropic;
            }

            if (responses)
            {
                return UsageShape.OpenAiResponses;
            }

            // Only input_tokens/output_tokens: with no cache fields both conventions give the same numbers, so
            // either reading is right; prefer the one the provider actually returns.
            if (allowed is not null && allowed.Contains(UsageShape.Anthropic) && !allowed.Contains(UsageShape.OpenAiResponses))
            {
                return UsageShape.Anthropic;
            }

            return UsageShape.OpenAiResponses;
        }

        problem = "is not a usage object of any known provider: expected OpenAI chat (prompt_tokens, " +
                  "completion_tokens), OpenAI Responses / Anthropic (input_tokens, output_tokens), Gemini " +
                  "(promptTokenCount, candidatesTokenCount) or Bedrock Converse (inputTokens, outputTokens) keys";
        return null;
    }

    private static (JsonElement Usage, string Path) Unwrap(JsonElement raw, string prefix)
    {
        // A whole response body: take the usage object out of it. Only when the body itself has no usage keys,
        // so a usage object that happened to contain a "usage" key would not be misread.
        if (raw.TryGetProperty("usageMetadata", out JsonElement metadata) && metadata.ValueKind == JsonValueKind.Object)
        {
            return (metadata, $"{prefix}.usageMetadata");
        }

        if (!Has(raw, "prompt_tokens", "completion_tokens", "input_tokens", "output_tokens", "inputTokens",
                "outputTokens", "promptTokenCount")
            && raw.TryGetProperty("usage", out JsonElement usage) && usage.ValueKind == JsonValueKind.Object)
        {
            return (usage, $"{prefix}.usage");
        }

        return (raw, prefix);
    }

    private static CanonicalUsage OpenAiChat(JsonElement u, RawUsageReader r, ChatQuirk quirk)
    {
        long prompt = r.Required(u, "prompt_tokens");
        long completion = r.Required(u, "completion_tokens");
        JsonElement? promptDetails = r.Object(u, "prompt_tokens_details");
        JsonElement? completionDetails = r.Object(u, "completion_tokens_details");
        long cached = r.Optional(promptDetails, "prompt_tokens_details", "cached_tokens");
        if (promptDetails is null && r.Has(u, "prompt_cache_hit_tokens"))
        {
            // DeepSeek's chat shape reports cache hits at the top level (prompt_tokens = hits + misses).
            cached = r.Optional(u, "prompt_cache_hit_tokens");
        }

        if (quirk == ChatQuirk.XAi && promptDetails is null && r.Has(u, "cached_prompt_text_tokens"))
        {
            cached = r.Optional(u, "cached_prompt_text_tokens");
        }

        long cacheWrite = r.Optional(promptDetails, "prompt_tokens_details", "cache_write_tokens");
        long inputAudio = r.Optional(promptDetails, "prompt_tokens_details", "audio_tokens");
        long reasoning = r.Optional(completionDetails, "completion_tokens_details", "reasoning_tokens");
        long outputAudio = r.Optional(completionDetails, "completion_tokens_details", "audio_tokens");

        r.PartOf(cached, "prompt_tokens_details.cached_tokens", prompt, "prompt_tokens");
        r.PartOf(cacheWrite, "prompt_tokens_details.cache_write_tokens", prompt, "prompt_tokens");
        r.PartOf(inputAudio, "prompt_tokens_details.audio_tokens", prompt, "prompt_tokens");
        r.PartOf(outputAudio, "completion_tokens_details.audio_tokens", completion, "completion_tokens");
        long output = completion;
        switch (quirk)
        {
            case ChatQuirk.XAi:
                // Reasoning is NOT part of completion_tokens here: add it (details, or the native top-level field).
                if (completionDetails is null && r.Has(u, "reasoning_tokens"))
                {
                    reasoning = r.Optional(u, "reasoning_tokens");
                }

                output = completion + reasoning;
                break;
            case ChatQuirk.Perplexity:
                long topReasoning = r.Optional(u, "reasoning_tokens");
                long citations = r.Optional(u, "citation_tokens");
                reasoning = Math.Max(reasoning, topReasoning);
                output = completion + topReasoning + citations;
                break;
            default:
                r.PartOf(reasoning, "completion_tokens_details.reasoning_tokens", completion, "completion_tokens");
                break;
        }

        return new CanonicalUsage
        {
            InputTokens = prompt,
            CacheReadTokens = cached,
            CacheWriteTokens = cacheWrite,
            InputAudioTokens = inputAudio,
            OutputTokens = output,
            ReasoningTokens = reasoning,
            OutputAudioTokens = outputAudio,
        };
    }

    private static CanonicalUsage OpenAiResponses(JsonElement u, RawUsageReader r)
    {
        long input = r.Required(u, "input_tokens");
        long output = r.Required(u, "output_tokens");
        JsonElement? inputDetails = r.Object(u, "input_tokens_details");
        JsonElement? outputDetails = r.Object(u, "output_tokens_details");
        long cached = r.Optional(inputDetails, "input_tokens_details", "cached_tokens");
        long cacheWrite = r.Optional(inputDetails, "input_tokens_details", "cache_write_tokens");
        long reasoning = r.Optional(outputDetails, "output_tokens_details", "reasoning_tokens");
        r.PartOf(cached, "input_tokens_details.cached_tokens", input, "input_tokens");
        r.PartOf(cacheWrite, "input_tokens_details.cache_write_tokens", input, "input_tokens");
        r.PartOf(reasoning, "output_tokens_details.reasoning_tokens", output, "output_tokens");
        return new CanonicalUsage
        {
            InputTokens = input,
            CacheReadTokens = cached,
            CacheWriteTokens = cacheWrite,
            OutputTokens = output,
            ReasoningTokens = reasoning,
        };
    }

    private static CanonicalUsage Anthropic(JsonElement u, RawUsageReader r)
    {
        long uncached = r.Required(u, "input_tokens");
        long output = r.Required(u, "output_tokens");
        long cacheRead = r.Optional(u, "cache_read_input_tokens");
        bool hasCreationTotal = r.Has(u, "cache_creation_input_tokens");
        long cacheCreation = r.Optional(u, "cache_creation_input_tokens");
        JsonElement? creation = r.Object(u, "cache_creation");
        long write5m = r.Optional(creation, "cache_creation", "ephemeral_5m_input_tokens");
        long write1h = r.Optional(creation, "cache_creation", "ephemeral_1h_input_tokens");
        JsonElement? serverTools = r.Object(u, "server_tool_use");
        long searches = r.Optional(serverTools, "server_tool_use", "web_search_requests");
        JsonElement? outputDetails = r.Object(u, "output_tokens_details");
        long thinking = r.Optional(outputDetails, "output_tokens_details", "thinking_tokens");

        long cacheWrite = cacheCreation;
        if (creation is not null)
        {
            if (!hasCreationTotal)
            {
                cacheWrite = write5m + write1h;
            }
            else if (write5m + write1h != cacheCreation)
            {
                // The API reports the total and its TTL split; if they disagree we cannot know which to bill.
                r.Error("cache_creation",
                    $"ephemeral_5m_input_tokens ({write5m}) + ephemeral_1h_input_tokens ({write1h}) must equal " +
                    $"cache_creation_input_tokens ({cacheCreation})");
            }
        }

        r.PartOf(thinking, "output_tokens_details.thinking_tokens", output, "output_tokens");
        return new CanonicalUsage
        {
            // Anthropic's input_tokens is only the uncached part: add reads and writes back.
            InputTokens = uncached + cacheRead + cacheWrite,
            CacheReadTokens = cacheRead,
            CacheWriteTokens = cacheWrite,
            CacheWrite1hTokens = write1h,
            OutputTokens = output,
            ReasoningTokens = thinking,
            WebSearches = searches,
        };
    }

    private static CanonicalUsage Gemini(JsonElement u, RawUsageReader r)
    {
        long prompt = r.Optional(u, "promptTokenCount");
        long cached = r.Optional(u, "cachedContentTokenCount");
        long toolPrompt = r.Optional(u, "toolUsePromptTokenCount");
        long candidates = r.Optional(u, "candidatesTokenCount");
        long thoughts = r.Optional(u, "thoughtsTokenCount");
        long promptAudio = r.Modality(u, "promptTokensDetails", "AUDIO");
        long toolAudio = r.Modality(u, "toolUsePromptTokensDetails", "AUDIO");
        long cachedAudio = r.Modality(u, "cacheTokensDetails", "AUDIO");
        long outputAudio = r.Modality(u, "candidatesTokensDetails", "AUDIO");

        r.PartOf(cached, "cachedContentTokenCount", prompt, "promptTokenCount");
        r.PartOf(promptAudio, "promptTokensDetails[AUDIO].tokenCount", prompt, "promptTokenCount");
        r.PartOf(cachedAudio, "cacheTokensDetails[AUDIO].tokenCount", cached, "cachedContentTokenCount");
        r.PartOf(outputAudio, "candidatesTokensDetails[AUDIO].tokenCount", candidates, "candidatesTokenCount");
        return new CanonicalUsage
        {
            // Tool-use prompt tokens (e.g. search grounding results fed back) are billed as input on top.
            InputTokens = prompt + toolPrompt,
            CacheReadTokens = cached,
            InputAudioTokens = promptAudio + toolAudio,
            CacheAudioReadTokens = cachedAudio,
            // candidatesTokenCount excludes thinking; thoughts are billed at the output rate.
            OutputTokens = candidates + thoughts,
            ReasoningTokens = thoughts,
            OutputAudioTokens = outputAudio,
        };
    }

    private static CanonicalUsage Bedrock(JsonElement u, RawUsageReader r)
    {
        long uncached = r.Required(u, "inputTokens");
        long output = r.Required(u, "outputTokens");
        long cacheRead = r.Optional(u, "cacheReadInputTokens");
        long cacheWrite = r.Optional(u, "cacheWriteInputTokens");
        return new CanonicalUsage
        {
            InputTokens = uncached + cacheRead + cacheWrite,
            CacheReadTokens = cacheRead,
            CacheWriteTokens = cacheWrite,
            OutputTokens = output,
        };
    }

    private static bool Has(JsonElement obj, params ReadOnlySpan<string> names)
    {
        foreach (string name in names)
        {
            if (obj.TryGetProperty(name, out _))
            {
                return true;
            }
        }

        return false;
    }
}
