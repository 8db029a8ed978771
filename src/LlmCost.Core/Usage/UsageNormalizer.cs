// Long on purpose: one section per provider's usage object, side by side: how each provider counts cached, reasoning and
// modality tokens is compared across them (see the remarks), and that comparison is the point of the file.
using System.Collections.Frozen;
using System.Text.Json;
using LlmCost.Core.Pricing;

namespace LlmCost.Core.Usage;

/// <summary>
/// Turns a provider's own usage object (or a whole response body holding it), as its API returns it, into
/// <see cref="CanonicalUsage"/> over the full unit lattice.
/// </summary>
/// <remarks>
/// <para>The conventions (genai-prices 0.1.8's extractors unless said otherwise; the differential tests hold every
/// body of tests/.../Usage/Corpus to <c>extractUsage</c> + <c>calcPrice</c>). Getting the cached-token convention
/// wrong is the most common cost bug in public trackers (LiteLLM #6215, #11789; Langfuse #14249):</para>
/// <list type="bullet">
/// <item>OpenAI / Azure OpenAI chat (and the OpenAI-compatible DeepSeek, Groq, Mistral, OpenRouter, Fireworks, ...):
/// <c>prompt_tokens</c> INCLUDES <c>prompt_tokens_details.cached_tokens</c>, <c>cache_write_tokens</c> and
/// <c>audio_tokens</c>; <c>completion_tokens</c> INCLUDES <c>completion_tokens_details.reasoning_tokens</c>,
/// <c>audio_tokens</c> and the accepted/rejected prediction tokens (billed as output, nothing apart).
/// Beyond the extractors: <c>text_tokens</c>, <c>image_tokens</c>, <c>video_tokens</c> of either details object map to
/// the text/image/video classes; DeepSeek's top-level <c>prompt_cache_hit_tokens</c> are the cache reads when the
/// details are absent; OpenRouter's <c>server_tool_use.web_search_requests</c> are web searches.</item>
/// <item>xAI (provider <c>x-ai</c>) chat: <c>completion_tokens</c> EXCLUDES reasoning, which is added as output; native
/// shape: top-level <c>reasoning_tokens</c>, <c>cached_prompt_text_tokens</c>. Responses: beyond the extractors,
/// <c>server_side_tool_usage</c> web/X searches, code executions and file searches.</item>
/// <item>Perplexity: top-level <c>reasoning_tokens</c> and <c>citation_tokens</c> are billed as output ON TOP of
/// <c>completion_tokens</c>; <c>num_search_queries</c> are web searches.</item>
/// <item>OpenAI / Azure Responses and the Images API: <c>input_tokens</c> INCLUDES <c>input_tokens_details</c>
/// (<c>cached_tokens</c>, <c>text_tokens</c>, <c>image_tokens</c>); <c>output_tokens</c> INCLUDES
/// <c>output_tokens_details</c>. Beyond the extractors: in a whole Responses body each <c>web_search_call</c> output
/// item is a web search and each <c>file_search_call</c> a storage search (OpenAI bills both per call).</item>
/// <item>Realtime <c>response.done</c> and token-based transcription: <c>input_token_details</c> /
/// <c>output_token_details</c> by modality, cached tokens by modality in <c>cached_tokens_details</c>; xAI's
/// <c>billable_audio_seconds</c> and <c>input_text_messages</c>. Duration-based transcription
/// (<c>{"type":"duration","seconds":N}</c>) is input audio seconds (not in the extractors).</item>
/// <item>Anthropic Messages (also on Bedrock InvokeModel, Vertex, Azure Foundry): <c>input_tokens</c> EXCLUDES
/// <c>cache_creation_input_tokens</c> and <c>cache_read_input_tokens</c>, so canonical input is their sum;
/// <c>cache_creation</c> splits writes into 5-minute and 1-hour TTL; <c>server_tool_use.web_search_requests</c> are
/// web searches (<c>web_fetch_requests</c> cost nothing apart); <c>output_tokens_details.thinking_tokens</c> are
/// reasoning. Top-level usage EXCLUDES server-side compaction: each <c>iterations[]</c> entry of type
/// <c>compaction</c> is billed as its own sampling pass at the same model and priced as such (its own long-context
/// tier), not in the extractors.</item>
/// <item>Gemini / Vertex <c>usageMetadata</c> (camelCase, or the SDKs' snake_case): <c>promptTokenCount</c>
/// INCLUDES <c>cachedContentTokenCount</c>; details by modality (TEXT, AUDIO, IMAGE, VIDEO; DOCUMENT counts as
/// image); <c>toolUsePromptTokenCount</c> is extra input (tool tokens); <c>candidatesTokenCount</c> EXCLUDES
/// <c>thoughtsTokenCount</c>, and thoughts are billed as output, so output = candidates + thoughts. The Live API's
/// <c>responseTokenCount</c> stands for the candidates.</item>
/// <item>Bedrock Converse (and Nova's InvokeModel body): <c>inputTokens</c> EXCLUDES cache reads and writes; beyond
/// the extractors, <c>cacheDetails</c> splits writes by TTL. InvokeModel of any model: its response headers
/// <c>X-Amzn-Bedrock-Input-Token-Count</c> etc. (input excluding cache); Llama's and Titan's own bodies.</item>
/// <item>Cohere: <c>billed_units</c> is what is billed (input/output tokens, rerank <c>search_units</c>); without it,
/// <c>tokens</c> and <c>cached_tokens</c>. Mistral OCR: <c>usage_info.pages_processed</c> document pages, also
/// annotated pages when the body carries an annotation.</item>
/// </list>
/// <para>Forward compatible: a field this version does not know is ignored, listed in
/// <see cref="UsageParseResult.IgnoredFields"/> and counted (<see cref="UsageMetrics"/>), never a rejection of a
/// real call. A field that IS read must make sense (a count, a part no larger than its whole), else it is an
/// error naming it: a wrong number is worse than a refused one.</para>
/// </remarks>
public static class UsageNormalizer
{
    private static readonly UsageShape[] s_openAiShapes =
        [UsageShape.OpenAiChat, UsageShape.OpenAiResponses, UsageShape.OpenAiRealtime, UsageShape.AudioDuration];

    private static readonly FrozenSet<string> s_geminiModalities =
        new[] { "TEXT", "IMAGE", "AUDIO", "VIDEO", "DOCUMENT", "MODALITY_UNSPECIFIED" }.ToFrozenSet(StringComparer.Ordinal);

    private static readonly UsageUnit Input = UsageUnits.Get("input_tokens");
    private static readonly UsageUnit InputText = UsageUnits.Get("input_text_tokens");
    private static readonly UsageUnit InputAudio = UsageUnits.Get("input_audio_tokens");
    private static readonly UsageUnit InputImage = UsageUnits.Get("input_image_tokens");
    private static readonly UsageUnit InputVideo = UsageUnits.Get("input_video_tokens");
    private static readonly UsageUnit InputTool = UsageUnits.Get("input_tool_tokens");
    private static readonly UsageUnit InputTextTool = UsageUnits.Get("input_text_tool_tokens");
    private static readonly UsageUnit InputAudioTool = UsageUnits.Get("input_audio_tool_tokens");
    private static readonly UsageUnit InputImageTool = UsageUnits.Get("input_image_tool_tokens");
    private static readonly UsageUnit InputVideoTool = UsageUnits.Get("input_video_tool_tokens");
    private static readonly UsageUnit CacheRead = UsageUnits.Get("cache_read_tokens");
    private static readonly UsageUnit CacheTextRead = UsageUnits.Get("cache_text_read_tokens");
    private static readonly UsageUnit CacheAudioRead = UsageUnits.Get("cache_audio_read_tokens");
    private static readonly UsageUnit CacheImageRead = UsageUnits.Get("cache_image_read_tokens");
    private static readonly UsageUnit CacheVideoRead = UsageUnits.Get("cache_video_read_tokens");
    private static readonly UsageUnit CacheWrite = UsageUnits.Get("cache_write_tokens");
    private static readonly UsageUnit CacheWrite5m = UsageUnits.Get("cache_write_5m_tokens");
    private static readonly UsageUnit CacheWrite1h = UsageUnits.Get("cache_write_1h_tokens");
    private static readonly UsageUnit Output = UsageUnits.Get("output_tokens");
    private static readonly UsageUnit OutputText = UsageUnits.Get("output_text_tokens");
    private static readonly UsageUnit OutputAudio = UsageUnits.Get("output_audio_tokens");
    private static readonly UsageUnit OutputImage = UsageUnits.Get("output_image_tokens");
    private static readonly UsageUnit OutputVideo = UsageUnits.Get("output_video_tokens");
    private static readonly UsageUnit OutputReasoning = UsageUnits.Get("output_reasoning_tokens");
    private static readonly UsageUnit OutputCitation = UsageUnits.Get("output_citation_tokens");
    private static readonly UsageUnit WebSearches = UsageUnits.Get("web_searches");
    private static readonly UsageUnit SocialSearches = UsageUnits.Get("social_searches");
    private static readonly UsageUnit StorageSearches = UsageUnits.Get("storage_searches");
    private static readonly UsageUnit CodeExecutions = UsageUnits.Get("code_executions");
    private static readonly UsageUnit RerankSearches = UsageUnits.Get("rerank_searches");
    private static readonly UsageUnit AudioSeconds = UsageUnits.Get("audio_seconds");
    private static readonly UsageUnit InputAudioSeconds = UsageUnits.Get("input_audio_seconds");
    private static readonly UsageUnit DocumentPages = UsageUnits.Get("input_document_pages");
    private static readonly UsageUnit AnnotatedPages = UsageUnits.Get("input_annotated_document_pages");
    private static readonly UsageUnit TextMessages = UsageUnits.Get("input_text_messages");

    /// <summary>Providers whose OpenAI-style usage departs from OpenAI's convention (as genai-prices 0.1.8 reads them).</summary>
    private enum Quirk
    {
        None,

        /// <summary>xAI: <c>completion_tokens</c> EXCLUDES reasoning; reasoning (in details, or top-level in the native
        /// shape) is billed as output on top; cached prompt tokens may be top-level <c>cached_prompt_text_tokens</c>.</summary>
        XAi,

        /// <summary>Perplexity: top-level <c>reasoning_tokens</c> and <c>citation_tokens</c> are billed as output on top of
        /// <c>completion_tokens</c>.</summary>
        Perplexity,
    }

    /// <summary>
    /// Normalises <paramref name="raw"/>, which may be the usage object itself or a whole response body holding it
    /// (under <c>usage</c>, <c>usageMetadata</c>, <c>response.usage</c>, <c>meta</c>, <c>usage_info</c>).
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

        if (FindDuplicateKey(raw, fieldPrefix) is { } duplicate)
        {
            // System.Text.Json keeps both copies and which one a lookup sees is an accident: refuse, never guess.
            return UsageParseResult.Failure(duplicate, "appears more than once");
        }

        (JsonElement usage, string path, JsonElement? body) = Unwrap(raw, fieldPrefix);
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

        return Normalize(detected.Value, usage, path, QuirkOf(provider), body);
    }

    /// <summary>Normalises a usage object known to have <paramref name="shape"/>.</summary>
    public static UsageParseResult Normalize(UsageShape shape, JsonElement usage, string fieldPrefix = "raw_usage") =>
        Normalize(shape, usage, fieldPrefix, Quirk.None, null);

    /// <summary>The shape as people call it, for messages.</summary>
    public static string DisplayName(UsageShape shape) => shape switch
    {
        UsageShape.Canonical => "canonical",
        UsageShape.OpenAiChat => "OpenAI chat completions",
        UsageShape.OpenAiResponses => "OpenAI Responses",
        UsageShape.Anthropic => "Anthropic Messages",
        UsageShape.Gemini => "Gemini usageMetadata",
        UsageShape.BedrockConverse => "Bedrock Converse",
        UsageShape.OpenAiRealtime => "Realtime / transcription token",
        UsageShape.AudioDuration => "transcription duration",
        UsageShape.Cohere => "Cohere",
        UsageShape.MistralOcr => "Mistral OCR",
        UsageShape.BedrockInvokeHeaders => "Bedrock InvokeModel header",
        UsageShape.BedrockLlama => "Bedrock Llama",
        UsageShape.BedrockTitan => "Bedrock Titan",
        _ => shape.ToString(),
    };

    /// <summary>A stable machine name of the shape (CLI output, metric tags).</summary>
    public static string ShapeId(UsageShape shape) => shape switch
    {
        UsageShape.Canonical => "canonical",
        UsageShape.OpenAiChat => "openai-chat",
        UsageShape.OpenAiResponses => "openai-responses",
        UsageShape.Anthropic => "anthropic",
        UsageShape.Gemini => "gemini",
        UsageShape.BedrockConverse => "bedrock-converse",
        UsageShape.OpenAiRealtime => "openai-realtime",
        UsageShape.AudioDuration => "audio-duration",
        UsageShape.Cohere => "cohere",
        UsageShape.MistralOcr => "mistral-ocr",
        UsageShape.BedrockInvokeHeaders => "bedrock-invoke-headers",
        UsageShape.BedrockLlama => "bedrock-llama",
        UsageShape.BedrockTitan => "bedrock-titan",
        _ => shape.ToString().ToLowerInvariant(),
    };

    /// <summary>The shapes a provider's APIs return; null when the provider is unknown here (detect freely).</summary>
    public static IReadOnlyList<UsageShape>? ShapesFor(string? provider)
    {
        if (string.IsNullOrWhiteSpace(provider))
        {
            return null;
        }

        return provider.Trim().ToLowerInvariant() switch
        {
            "openai" => s_openAiShapes,
            // Azure hosts OpenAI models (chat, Responses, Realtime) and, in Foundry, Claude with Anthropic's shape.
            "azure" or "azure-openai" or "azure_openai" or "azureopenai" =>
                [.. s_openAiShapes, UsageShape.Anthropic],
            // Anthropic also serves an OpenAI-compatible chat endpoint.
            "anthropic" => [UsageShape.Anthropic, UsageShape.OpenAiChat],
            // Vertex AI serves Gemini, Claude (Anthropic shape) and an OpenAI-compatible endpoint.
            "google" or "gemini" or "google-vertex" or "vertex" or "vertex_ai" or "google-gla" =>
                [UsageShape.Gemini, UsageShape.Anthropic, UsageShape.OpenAiChat],
            // Bedrock: Converse (camelCase), or InvokeModel with the model's own body or the response headers.
            "aws" or "bedrock" or "aws-bedrock" or "amazon-bedrock" =>
                [UsageShape.BedrockConverse, UsageShape.Anthropic, UsageShape.BedrockInvokeHeaders, UsageShape.BedrockLlama,
                 UsageShape.BedrockTitan, UsageShape.OpenAiChat],
            "cohere" => [UsageShape.Cohere, UsageShape.OpenAiChat],
            "mistral" => [UsageShape.OpenAiChat, UsageShape.MistralOcr],
            "x-ai" or "xai" or "grok" => [UsageShape.OpenAiChat, UsageShape.OpenAiResponses, UsageShape.OpenAiRealtime],
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

        if (Has(usage, "generation_token_count"))
        {
            return UsageShape.BedrockLlama;
        }

        if (Has(usage, "promptTokenCount", "candidatesTokenCount", "cachedContentTokenCount", "thoughtsTokenCount",
                "totalTokenCount", "toolUsePromptTokenCount", "responseTokenCount", "prompt_token_count",
                "candidates_token_count", "cached_content_token_count", "thoughts_token_count", "total_token_count"))
        {
            return UsageShape.Gemini;
        }

        if (Has(usage, "inputTextTokenCount"))
        {
            return UsageShape.BedrockTitan;
        }

        if (Has(usage, "inputTokens", "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens"))
        {
            return UsageShape.BedrockConverse;
        }

        if (IsBedrockHeaders(usage))
        {
            return UsageShape.BedrockInvokeHeaders;
        }

        if (Has(usage, "billed_units") || (usage.TryGetProperty("tokens", out JsonElement tokens) && tokens.ValueKind == JsonValueKind.Object))
        {
            return UsageShape.Cohere;
        }

        if (Has(usage, "pages_processed"))
        {
            return UsageShape.MistralOcr;
        }

        if (usage.TryGetProperty("type", out JsonElement type) && type.ValueKind == JsonValueKind.String && type.GetString() == "duration")
        {
            return UsageShape.AudioDuration;
        }

        if (Has(usage, "input_token_details", "output_token_details", "billable_audio_seconds"))
        {
            return UsageShape.OpenAiRealtime;
        }

        if (Has(usage, "prompt_tokens", "completion_tokens"))
        {
            return UsageShape.OpenAiChat;
        }

        if (Has(usage, "input_tokens", "output_tokens"))
        {
            return AnthropicOrResponses(usage, allowed, out problem);
        }

        problem = "is not a usage object of any known provider: expected OpenAI chat (prompt_tokens, " +
                  "completion_tokens), OpenAI Responses / Anthropic (input_tokens, output_tokens), Gemini " +
                  "(promptTokenCount, candidatesTokenCount), Bedrock (inputTokens, outputTokens), Cohere (billed_units) " +
                  "or Mistral OCR (pages_processed) keys";
        return null;
    }

    /// <summary>
    /// Both use input_tokens/output_tokens with opposite cache conventions. Cache fields decide (Anthropic's
    /// cache_*_input_tokens / cache_creation vs input_tokens_details); without them both conventions give the same
    /// input, and the weaker hints (server_tool_use, iterations, thinking_tokens vs total_tokens, reasoning_tokens)
    /// only pick which detail fields to read.
    /// </summary>
    private static UsageShape? AnthropicOrResponses(JsonElement usage, IReadOnlyList<UsageShape>? allowed, out string? problem)
    {
        problem = null;
        bool anthropic = Has(usage, "cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation");
        bool responses = Has(usage, "input_tokens_details");
        if (anthropic && responses)
        {
            problem = "mixes Anthropic cache keys (cache_creation_input_tokens, cache_read_input_tokens, cache_creation) " +
                      "with OpenAI Responses' input_tokens_details: cannot tell whether input_tokens includes cached tokens";
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

        int anthropicHints = Count(usage, "server_tool_use", "iterations", "service_tier", "inference_geo")
            + (Nested(usage, "output_tokens_details", "thinking_tokens") ? 1 : 0);
        int responsesHints = Count(usage, "total_tokens", "server_side_tool_usage", "num_sources_used", "cost_in_usd_ticks")
            + (Nested(usage, "output_tokens_details", "reasoning_tokens") ? 1 : 0);
        if (anthropicHints != responsesHints)
        {
            return anthropicHints > responsesHints ? UsageShape.Anthropic : UsageShape.OpenAiResponses;
        }

        // Nothing tells them apart, and with no cache fields both conventions give the same numbers; prefer the one
        // the provider actually returns.
        if (allowed is not null && allowed.Contains(UsageShape.Anthropic) && !allowed.Contains(UsageShape.OpenAiResponses))
        {
            return UsageShape.Anthropic;
        }

        return UsageShape.OpenAiResponses;
    }

    private static Quirk QuirkOf(string? provider) => provider?.Trim().ToLowerInvariant() switch
    {
        "x-ai" or "xai" or "grok" => Quirk.XAi,
        "perplexity" => Quirk.Perplexity,
        _ => Quirk.None,
    };

    private static UsageParseResult Normalize(UsageShape shape, JsonElement usage, string fieldPrefix, Quirk quirk, JsonElement? body)
    {
        ArgumentNullException.ThrowIfNull(fieldPrefix);
        if (shape == UsageShape.Canonical)
        {
            return CanonicalUsageParser.Parse(usage, strict: true, fieldPrefix);
        }

        if (usage.ValueKind != JsonValueKind.Object)
        {
            return UsageParseResult.Failure(fieldPrefix,
                $"must be a JSON object, got {UsageCounts.Describe(usage.ValueKind)}", shape);
        }

        var reader = new RawUsageReader(fieldPrefix);
        List<CanonicalUsage>? passes = null;
        switch (shape)
        {
            case UsageShape.OpenAiChat: OpenAiChat(usage, reader, quirk); break;
            case UsageShape.OpenAiResponses: OpenAiResponses(usage, reader, body); break;
            case UsageShape.OpenAiRealtime: Realtime(usage, reader); break;
            case UsageShape.AudioDuration: AudioDuration(usage, reader); break;
            case UsageShape.Anthropic: passes = Anthropic(usage, reader, fieldPrefix); break;
            case UsageShape.Gemini: Gemini(usage, reader); break;
            case UsageShape.BedrockConverse: Bedrock(usage, reader); break;
            case UsageShape.BedrockInvokeHeaders: BedrockHeaders(usage, reader); break;
            case UsageShape.BedrockLlama: BedrockLlama(usage, reader); break;
            case UsageShape.BedrockTitan: BedrockTitan(usage, reader); break;
            case UsageShape.Cohere: Cohere(usage, reader); break;
            case UsageShape.MistralOcr: MistralOcr(usage, reader, body); break;
            default: throw new ArgumentOutOfRangeException(nameof(shape), shape, "unknown usage shape");
        }

        reader.CollectUnknown(usage);
        UsageMetrics.RecordIgnored(ShapeId(shape), reader.UnknownFields);
        if (reader.Errors.Count > 0)
        {
            return UsageParseResult.Failure(reader.Errors, shape) with { IgnoredFields = reader.UnknownFields };
        }

        CanonicalUsage result = reader.Usage.Build();
        if (passes is { Count: > 0 })
        {
            // Each pass is priced on its own, so each must be consistent on its own.
            var passErrors = new List<FieldError>(UsageValidator.Validate(result, fieldPrefix));
            for (int i = 0; i < passes.Count; i++)
            {
                passErrors.AddRange(UsageValidator.Validate(passes[i], $"{fieldPrefix}.iterations[compaction {i}]"));
            }

            if (passErrors.Count > 0)
            {
                return UsageParseResult.Failure(passErrors, shape) with { IgnoredFields = reader.UnknownFields };
            }

            result = Combine(result, passes);
        }

        // Safety net: the per-shape checks above name the provider's own fields; anything they missed (a subset
        // larger than its parent in the lattice) is caught here under the canonical names.
        UsageParseResult validated = UsageValidator.ToResult(result, shape, fieldPrefix);
        return validated with { IgnoredFields = reader.UnknownFields, ReportedCostUsd = reader.ReportedCostUsd };
    }

    /// <summary>The call's total with its separately billed sampling passes (the top-level one first).</summary>
    private static CanonicalUsage Combine(CanonicalUsage main, List<CanonicalUsage> extra)
    {
        CanonicalUsage total = main;
        var all = new List<CanonicalUsage>(extra.Count + 1) { main };
        UsageUnit requests = UsageUnits.Get("requests");
        foreach (CanonicalUsage pass in extra)
        {
            // One call is one request, however many passes it took.
            CanonicalUsage withoutRequest = pass.With(requests, 0);
            all.Add(withoutRequest);
            total += withoutRequest;
        }

        return total with { Passes = all };
    }

    private static (JsonElement Usage, string Path, JsonElement? Body) Unwrap(JsonElement raw, string prefix)
    {
        // A whole response body: take the usage object out of it. Only when the body itself has no usage keys, so a
        // usage object that happened to contain a "usage" key would not be misread.
        foreach (string name in (ReadOnlySpan<string>)["usageMetadata", "usage_metadata"])
        {
            if (raw.TryGetProperty(name, out JsonElement metadata) && metadata.ValueKind == JsonValueKind.Object)
            {
                return (metadata, $"{prefix}.{name}", raw);
            }
        }

        if (HasUsageKeys(raw))
        {
            return (raw, prefix, null);
        }

        if (raw.TryGetProperty("usage", out JsonElement usage) && usage.ValueKind == JsonValueKind.Object)
        {
            return (usage, $"{prefix}.usage", raw);
        }

        // Realtime: {"type":"response.done","response":{...,"usage":{...}}}.
        if (raw.TryGetProperty("response", out JsonElement response) && response.ValueKind == JsonValueKind.Object
            && response.TryGetProperty("usage", out JsonElement responseUsage) && responseUsage.ValueKind == JsonValueKind.Object)
        {
            return (responseUsage, $"{prefix}.response.usage", response);
        }

        if (raw.TryGetProperty("usage_info", out JsonElement info) && info.ValueKind == JsonValueKind.Object)
        {
            return (info, $"{prefix}.usage_info", raw);
        }

        // Cohere embed / rerank and v1 chat keep billed units under "meta".
        if (raw.TryGetProperty("meta", out JsonElement meta) && meta.ValueKind == JsonValueKind.Object && Has(meta, "billed_units", "tokens"))
        {
            return (meta, $"{prefix}.meta", raw);
        }

        return (raw, prefix, null);
    }

    private static bool HasUsageKeys(JsonElement obj) =>
        Has(obj, "prompt_tokens", "completion_tokens", "input_tokens", "output_tokens", "inputTokens", "outputTokens",
            "promptTokenCount", "prompt_token_count", "generation_token_count", "inputTextTokenCount", "billed_units",
            "pages_processed", "billable_audio_seconds")
        || IsBedrockHeaders(obj)
        || (obj.TryGetProperty("type", out JsonElement type) && type.ValueKind == JsonValueKind.String && type.GetString() == "duration");

    private static void OpenAiChat(JsonElement u, RawUsageReader r, Quirk quirk)
    {
        r.Known(null, "total_tokens", "is_byok", "service_tier", "queue_time", "prompt_time", "completion_time", "total_time",
            "num_sources_used", "search_context_size", "prompt_cache_miss_tokens", "cost");
        r.KnownOpaque(null, "cost_details", "x_groq");
        long? prompt = r.Map(Input, u, null, "prompt_tokens", required: true);
        long? completion = r.Count(u, null, "completion_tokens", required: true);
        JsonElement? pd = r.Object(u, null, "prompt_tokens_details");
        JsonElement? cd = r.Object(u, null, "completion_tokens_details");
        const string P = "prompt_tokens_details";
        const string C = "completion_tokens_details";

        long? cached = r.Map(CacheRead, pd, P, "cached_tokens");
        if (cached is null)
        {
            // DeepSeek reports cache hits at the top level (prompt_tokens = hits + misses); xAI's native shape as
            // cached_prompt_text_tokens.
            cached = r.Map(CacheRead, u, null, "prompt_cache_hit_tokens");
            if (cached is null && quirk == Quirk.XAi)
            {
                cached = r.Map(CacheRead, u, null, "cached_prompt_text_tokens");
            }
        }

        r.Known(null, "prompt_cache_hit_tokens", "cached_prompt_text_tokens");
        r.PartOf(cached, "prompt_tokens_details.cached_tokens", prompt, "prompt_tokens");
        foreach ((UsageUnit unit, string name) in (ReadOnlySpan<(UsageUnit, string)>)
                 [(CacheWrite, "cache_write_tokens"), (InputAudio, "audio_tokens"), (InputText, "text_tokens"), (InputImage, "image_tokens"), (InputVideo, "video_tokens")])
        {
            r.PartOf(r.Map(unit, pd, P, name), $"{P}.{name}", prompt, "prompt_tokens");
        }

        long? reasoning = r.Count(cd, C, "reasoning_tokens");
        foreach ((UsageUnit unit, string name) in (ReadOnlySpan<(UsageUnit, string)>)
                 [(OutputAudio, "audio_tokens"), (OutputText, "text_tokens"), (OutputImage, "image_tokens")])
        {
            r.PartOf(r.Map(unit, cd, C, name), $"{C}.{name}", completion, "completion_tokens");
        }

        // Predicted outputs: both kinds are billed as completion tokens and already counted in them.
        r.PartOf(r.Count(cd, C, "accepted_prediction_tokens"), $"{C}.accepted_prediction_tokens", completion, "completion_tokens");
        r.PartOf(r.Count(cd, C, "rejected_prediction_tokens"), $"{C}.rejected_prediction_tokens", completion, "completion_tokens");

        long? output = completion;
        switch (quirk)
        {
            case Quirk.XAi:
                // Reasoning is NOT part of completion_tokens here: add it (details, or the native top-level field).
                if (reasoning is null)
                {
                    reasoning = r.Count(u, null, "reasoning_tokens");
                }

                r.Known(null, "reasoning_tokens");
                output = completion + (reasoning ?? 0);
                break;
            case Quirk.Perplexity:
                long? topReasoning = r.Count(u, null, "reasoning_tokens");
                long? citations = r.Count(u, null, "citation_tokens");
                r.Map(WebSearches, u, null, "num_search_queries");
                if (topReasoning is not null)
                {
                    reasoning = topReasoning;
                }

                if (citations is { } cited)
                {
                    r.Usage.Add(OutputCitation, cited);
                }

                output = completion + (topReasoning ?? 0) + (citations ?? 0);
                break;
            default:
                r.PartOf(reasoning, $"{C}.reasoning_tokens", completion, "completion_tokens");
                break;
        }

        if (output is { } total)
        {
            r.Usage.Add(Output, total);
        }

        if (reasoning is { } thought)
        {
            r.Usage.Add(OutputReasoning, thought);
        }

        JsonElement? serverTools = r.Object(u, null, "server_tool_use");
        r.Map(WebSearches, serverTools, "server_tool_use", "web_search_requests");

        // Mistral's audio understanding and transcription report the audio's length (billed per minute).
        if (r.Count(u, null, "prompt_audio_seconds") is { } seconds)
        {
            r.Usage.Add(AudioSeconds, seconds).Add(InputAudioSeconds, seconds);
        }

        ReadReportedCost(u, r);
    }

    private static void OpenAiResponses(JsonElement u, RawUsageReader r, JsonElement? body)
    {
        r.Known(null, "total_tokens", "is_byok", "num_sources_used", "num_server_side_tools_used", "cost", "cost_in_usd_ticks");
        r.KnownOpaque(null, "cost_details", "server_side_tool_usage_details");
        long? input = r.Map(Input, u, null, "input_tokens", required: true);
        long? output = r.Map(Output, u, null, "output_tokens", required: true);
        const string I = "input_tokens_details";
        const string O = "output_tokens_details";
        JsonElement? id = r.Object(u, null, I);
        JsonElement? od = r.Object(u, null, O);
        foreach ((UsageUnit unit, string name) in (ReadOnlySpan<(UsageUnit, string)>)
                 [(CacheRead, "cached_tokens"), (CacheWrite, "cache_write_tokens"), (InputText, "text_tokens"), (InputImage, "image_tokens"), (InputAudio, "audio_tokens")])
        {
            r.PartOf(r.Map(unit, id, I, name), $"{I}.{name}", input, "input_tokens");
        }

        foreach ((UsageUnit unit, string name) in (ReadOnlySpan<(UsageUnit, string)>)
                 [(OutputReasoning, "reasoning_tokens"), (OutputText, "text_tokens"), (OutputImage, "image_tokens"), (OutputAudio, "audio_tokens")])
        {
            r.PartOf(r.Map(unit, od, O, name), $"{O}.{name}", output, "output_tokens");
        }

        // xAI's Responses count their server-side tools (web search $5/1k, X search, code execution, file search).
        JsonElement? tools = r.Object(u, null, "server_side_tool_usage");
        if (tools is not null)
        {
            const string T = "server_side_tool_usage";
            r.Map(WebSearches, tools, T, "web_search");
            r.Map(SocialSearches, tools, T, "x_search");
            r.Map(CodeExecutions, tools, T, "code_execution");
            r.Map(StorageSearches, tools, T, "file_search");
        }
        else if (body is { } response && response.TryGetProperty("output", out JsonElement items) && items.ValueKind == JsonValueKind.Array)
        {
            // OpenAI bills hosted tools per call; the calls are output items, not usage fields.
            long searches = 0, fileSearches = 0;
            foreach (JsonElement item in items.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("type", out JsonElement type) || type.ValueKind != JsonValueKind.String)
                {
                    continue;
                }

                switch (type.GetString())
                {
                    // Opening or searching within a page the search found is part of the search call.
                    case "web_search_call" when !item.TryGetProperty("action", out JsonElement action)
                        || !action.TryGetProperty("type", out JsonElement kind) || kind.GetString() is null or "search":
                        searches++;
                        break;
                    case "file_search_call":
                        fileSearches++;
                        break;
                }
            }

            if (searches > 0)
            {
                r.Usage.Add(WebSearches, searches);
            }

            if (fileSearches > 0)
            {
                r.Usage.Add(StorageSearches, fileSearches);
            }
        }

        if (u.TryGetProperty("cost_in_usd_ticks", out JsonElement ticks) && ticks.ValueKind == JsonValueKind.Number && ticks.TryGetDecimal(out decimal t) && t >= 0)
        {
            // xAI: 1 tick = 1e-10 USD.
            r.ReportedCostUsd = t / 10_000_000_000m;
        }
        else
        {
            ReadReportedCost(u, r);
        }
    }

    private static void Realtime(JsonElement u, RawUsageReader r)
    {
        r.Known(null, "total_tokens", "type");
        long? input = r.Map(Input, u, null, "input_tokens");
        long? output = r.Map(Output, u, null, "output_tokens");
        const string I = "input_token_details";
        const string O = "output_token_details";
        JsonElement? id = r.Object(u, null, I);
        JsonElement? od = r.Object(u, null, O);
        foreach ((UsageUnit unit, string name) in (ReadOnlySpan<(UsageUnit, string)>)
                 [(InputText, "text_tokens"), (InputAudio, "audio_tokens"), (InputImage, "image_tokens"), (CacheRead, "cached_tokens")])
        {
            r.PartOf(r.Map(unit, id, I, name), $"{I}.{name}", input, "input_tokens");
        }

        const string CachedPath = I + ".cached_tokens_details";
        JsonElement? cd = r.Object(id, I, "cached_tokens_details");
        r.Map(CacheTextRead, cd, CachedPath, "text_tokens");
        r.Map(CacheAudioRead, cd, CachedPath, "audio_tokens");
        r.Map(CacheImageRead, cd, CachedPath, "image_tokens");
        foreach ((UsageUnit unit, string name) in (ReadOnlySpan<(UsageUnit, string)>)
                 [(OutputText, "text_tokens"), (OutputAudio, "audio_tokens")])
        {
            r.PartOf(r.Map(unit, od, O, name), $"{O}.{name}", output, "output_tokens");
        }

        // xAI Voice: billed per audio hour and per text message.
        r.Map(AudioSeconds, u, null, "billable_audio_seconds");
        r.Map(TextMessages, u, null, "input_text_messages");
    }

    private static void AudioDuration(JsonElement u, RawUsageReader r)
    {
        r.Known(null, "type");
        if (r.Count(u, null, "seconds", required: true) is { } seconds)
        {
            // Transcribed audio is input audio.
            r.Usage.Add(AudioSeconds, seconds).Add(InputAudioSeconds, seconds);
        }
    }

    private static List<CanonicalUsage>? Anthropic(JsonElement u, RawUsageReader r, string prefix)
    {
        ReadAnthropic(u, r, null);
        JsonElement? iterations = r.Array(u, null, "iterations");
        if (iterations is null)
        {
            return null;
        }

        var passes = new List<CanonicalUsage>();
        int index = 0;
        foreach (JsonElement iteration in iterations.Value.EnumerateArray())
        {
            string path = $"iterations[{index}]";
            index++;
            string? type = iteration.ValueKind == JsonValueKind.Object && iteration.TryGetProperty("type", out JsonElement t) && t.ValueKind == JsonValueKind.String
                ? t.GetString()
                : null;
            switch (type)
            {
                case "message":
                    // The top-level usage is the message iterations'.
                    break;
                case "compaction":
                    // Server-side compaction is a sampling pass of its own, billed at the same model and NOT included in
                    // the top-level usage. Priced as its own pass, so its long-context tier is its own.
                    var pass = new RawUsageReader($"{prefix}.{path}");
                    ReadAnthropic(iteration, pass, null);
                    pass.Known(null, "type");
                    r.Errors.AddRange(pass.Errors);
                    passes.Add(pass.Usage.Build());
                    break;
                default:
                    // e.g. an advisor's pass runs on ANOTHER model: it cannot be priced with this event's model (record it
                    // as its own event under the advisor model). Counted, never guessed.
                    r.Unknown($"iterations[{type ?? "?"}]");
                    break;
            }
        }

        return passes;
    }

    private static void ReadAnthropic(JsonElement u, RawUsageReader r, string? path)
    {
        r.Known(path, "service_tier", "inference_geo");
        long? uncached = r.Count(u, path, "input_tokens", required: true);
        r.Map(Output, u, path, "output_tokens", required: true);
        long? cacheRead = r.Count(u, path, "cache_read_input_tokens");
        long? creationTotal = r.Count(u, path, "cache_creation_input_tokens");
        string creationPath = RawUsageReader.Join(path, "cache_creation");
        JsonElement? creation = r.Object(u, path, "cache_creation");
        long? write5m = r.Map(CacheWrite5m, creation, creationPath, "ephemeral_5m_input_tokens");
        long? write1h = r.Map(CacheWrite1h, creation, creationPath, "ephemeral_1h_input_tokens");

        long? cacheWrite = creationTotal;
        if (creation is not null)
        {
            if (creationTotal is null)
            {
                cacheWrite = (write5m ?? 0) + (write1h ?? 0);
            }
            else if ((write5m ?? 0) + (write1h ?? 0) != creationTotal)
            {
                // The API reports the total and its TTL split; if they disagree we cannot know which to bill.
                r.Error(creationPath,
                    $"ephemeral_5m_input_tokens ({write5m ?? 0}) + ephemeral_1h_input_tokens ({write1h ?? 0}) must equal " +
                    $"cache_creation_input_tokens ({creationTotal})");
            }
        }

        // Anthropic's input_tokens is only the uncached part: add reads and writes back.
        if (uncached is { } fresh)
        {
            r.Usage.Add(Input, fresh + (cacheRead ?? 0) + (cacheWrite ?? 0));
        }

        if (cacheRead is { } read)
        {
            r.Usage.Add(CacheRead, read);
        }

        if (cacheWrite is { } written)
        {
            r.Usage.Add(CacheWrite, written);
        }

        string toolsPath = RawUsageReader.Join(path, "server_tool_use");
        JsonElement? tools = r.Object(u, path, "server_tool_use");
        r.Map(WebSearches, tools, toolsPath, "web_search_requests");
        // Web fetches cost nothing beyond their tokens; code execution is billed by container time, not per call.
        r.Known(toolsPath, "web_fetch_requests", "code_execution_requests");

        string detailsPath = RawUsageReader.Join(path, "output_tokens_details");
        JsonElement? details = r.Object(u, path, "output_tokens_details");
        long? thinking = r.Map(OutputReasoning, details, detailsPath, "thinking_tokens");
        r.PartOf(thinking, RawUsageReader.Join(detailsPath, "thinking_tokens"), r.Usage[Output], "output_tokens");
    }

    private static void Gemini(JsonElement u, RawUsageReader r)
    {
        bool snake = !Has(u, "promptTokenCount", "candidatesTokenCount", "totalTokenCount", "responseTokenCount")
                     && Has(u, "prompt_token_count", "candidates_token_count", "total_token_count", "cached_content_token_count");
        string N(string camel) => snake ? Snake(camel) : camel;

        r.Known(null, N("totalTokenCount"), N("trafficType"));
        long? prompt = r.Map(Input, u, null, N("promptTokenCount"));
        long? cached = r.Map(CacheRead, u, null, N("cachedContentTokenCount"));
        r.PartOf(cached, N("cachedContentTokenCount"), prompt, N("promptTokenCount"));

        JsonElement? promptDetails = r.Array(u, null, N("promptTokensDetails"));
        JsonElement? cacheDetails = r.Array(u, null, N("cacheTokensDetails"));
        JsonElement? toolDetails = r.Array(u, null, N("toolUsePromptTokensDetails"));
        long? candidates = r.Count(u, null, N("candidatesTokenCount"));
        JsonElement? candidateDetails = r.Array(u, null, N("candidatesTokensDetails"));
        string candidateList = N("candidatesTokensDetails");
        if (candidates is null)
        {
            // The Live API reports its output as responseTokenCount / responseTokensDetails.
            candidates = r.Count(u, null, N("responseTokenCount"));
            if (candidateDetails is null)
            {
                candidateDetails = r.Array(u, null, N("responseTokensDetails"));
                candidateList = N("responseTokensDetails");
            }
        }

        r.Known(null, N("responseTokenCount"), N("responseTokensDetails"));
        string countName = snake ? "token_count" : "tokenCount";
        void ByModality(JsonElement? list, string listName, UsageUnit text, UsageUnit audio, UsageUnit image, UsageUnit video)
        {
            foreach ((string modality, UsageUnit unit) in (ReadOnlySpan<(string, UsageUnit)>)
                     [("TEXT", text), ("AUDIO", audio), ("IMAGE", image), ("DOCUMENT", image), ("VIDEO", video)])
            {
                if (r.Modality(list, listName, modality, s_geminiModalities, countName) is { } count)
                {
                    r.Usage.Add(unit, count);
                }
            }
        }

        ByModality(promptDetails, N("promptTokensDetails"), InputText, InputAudio, InputImage, InputVideo);
        ByModality(cacheDetails, N("cacheTokensDetails"), CacheTextRead, CacheAudioRead, CacheImageRead, CacheVideoRead);
        ByModality(candidateDetails, candidateList, OutputText, OutputAudio, OutputImage, OutputVideo);

        // Tool-use prompt tokens (e.g. search grounding results fed back) are billed as input on top of the prompt.
        if (r.Count(u, null, N("toolUsePromptTokenCount")) is { } toolPrompt)
        {
            r.Usage.Add(Input, toolPrompt).Add(InputTool, toolPrompt);
        }

        ByModality(toolDetails, N("toolUsePromptTokensDetails"), InputText, InputAudio, InputImage, InputVideo);
        ByModality(toolDetails, N("toolUsePromptTokensDetails"), InputTextTool, InputAudioTool, InputImageTool, InputVideoTool);

        // candidatesTokenCount excludes thinking; thoughts are billed at the output rate.
        long? thoughts = r.Count(u, null, N("thoughtsTokenCount"));
        if (candidates is not null || thoughts is not null)
        {
            r.Usage.Add(Output, (candidates ?? 0) + (thoughts ?? 0));
        }

        if (thoughts is { } thought)
        {
            r.Usage.Add(OutputReasoning, thought);
        }
    }

    private static void Bedrock(JsonElement u, RawUsageReader r)
    {
        r.Known(null, "totalTokens");
        long? uncached = r.Count(u, null, "inputTokens", required: true);
        r.Map(Output, u, null, "outputTokens", required: true);
        // Nova's InvokeModel body names them ...TokenCount.
        long? read = r.Count(u, null, "cacheReadInputTokens") ?? r.Count(u, null, "cacheReadInputTokenCount");
        long? write = r.Count(u, null, "cacheWriteInputTokens") ?? r.Count(u, null, "cacheWriteInputTokenCount");
        r.Known(null, "cacheReadInputTokenCount", "cacheWriteInputTokenCount");

        long? fiveMinutes = null, oneHour = null;
        if (r.Array(u, null, "cacheDetails") is { } details)
        {
            int index = 0;
            foreach (JsonElement detail in details.EnumerateArray())
            {
                string path = $"cacheDetails[{index}]";
                index++;
                if (detail.ValueKind != JsonValueKind.Object)
                {
                    r.Error(path, $"must be an object, got {UsageCounts.Describe(detail.ValueKind)}");
                    continue;
                }

                string? ttl = detail.TryGetProperty("ttl", out JsonElement t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                long? tokens = r.Count(detail, path, "inputTokens");
                switch (ttl)
                {
                    case "5m": fiveMinutes = (fiveMinutes ?? 0) + (tokens ?? 0); break;
                    case "1h": oneHour = (oneHour ?? 0) + (tokens ?? 0); break;
                    default: r.Unknown($"cacheDetails[{ttl ?? "?"}]"); break;
                }
            }
        }

        write ??= fiveMinutes is null && oneHour is null ? null : (fiveMinutes ?? 0) + (oneHour ?? 0);
        if (uncached is { } fresh)
        {
            r.Usage.Add(Input, fresh + (read ?? 0) + (write ?? 0));
        }

        AddIfPresent(r, CacheRead, read);
        AddIfPresent(r, CacheWrite, write);
        AddIfPresent(r, CacheWrite5m, fiveMinutes);
        AddIfPresent(r, CacheWrite1h, oneHour);
    }

    private static void BedrockHeaders(JsonElement u, RawUsageReader r)
    {
        long? input = null, output = null, read = null, write = null;
        bool hasInput = false, hasOutput = false;
        foreach (JsonProperty header in u.EnumerateObject())
        {
            switch (header.Name.ToLowerInvariant())
            {
                case "x-amzn-bedrock-input-token-count": hasInput = true; input = r.CountOrNumericString(header.Value, header.Name); break;
                case "x-amzn-bedrock-output-token-count": hasOutput = true; output = r.CountOrNumericString(header.Value, header.Name); break;
                case "x-amzn-bedrock-cache-read-input-token-count": read = r.CountOrNumericString(header.Value, header.Name); break;
                case "x-amzn-bedrock-cache-write-input-token-count": write = r.CountOrNumericString(header.Value, header.Name); break;
                case var name when name.StartsWith("x-amzn-bedrock-", StringComparison.Ordinal) && name.Contains("count", StringComparison.Ordinal):
                    // A count this version does not know: ignored and counted.
                    break;
                default:
                    // The rest of a header dump (content-type, request id, latency) carries nothing priced.
                    r.Known(null, header.Name);
                    break;
            }
        }

        if (!hasInput)
        {
            r.Error("x-amzn-bedrock-input-token-count", "is required");
        }

        if (!hasOutput)
        {
            r.Error("x-amzn-bedrock-output-token-count", "is required");
        }

        // Like Converse, the input count EXCLUDES cache reads and writes.
        r.Usage.Add(Input, (input ?? 0) + (read ?? 0) + (write ?? 0));
        r.Usage.Add(Output, output ?? 0);
        AddIfPresent(r, CacheRead, read);
        AddIfPresent(r, CacheWrite, write);
    }

    private static void BedrockLlama(JsonElement u, RawUsageReader r)
    {
        r.Known(null, "generation", "stop_reason", "prompt_logprobs", "generation_logprobs");
        r.Map(Input, u, null, "prompt_token_count", required: true);
        r.Map(Output, u, null, "generation_token_count", required: true);
    }

    private static void BedrockTitan(JsonElement u, RawUsageReader r)
    {
        r.Known(null, "embedding", "embeddingsByType");
        r.Map(Input, u, null, "inputTextTokenCount", required: true);
        if (r.Array(u, null, "results") is { } results)
        {
            long output = 0;
            int index = 0;
            foreach (JsonElement result in results.EnumerateArray())
            {
                output += r.Count(result, $"results[{index}]", "tokenCount") ?? 0;
                index++;
            }

            r.Usage.Add(Output, output);
        }
    }

    private static void Cohere(JsonElement u, RawUsageReader r)
    {
        r.Known(null, "api_version", "warnings", "cached_tokens");
        JsonElement? billed = r.Object(u, null, "billed_units");
        if (billed is not null)
        {
            // Billed units are what is charged (the tokens object also counts the prompt template).
            r.KnownOpaque(null, "tokens");
            r.Known("billed_units", "classifications", "images");
            r.Map(Input, billed, "billed_units", "input_tokens");
            r.Map(Output, billed, "billed_units", "output_tokens");
            r.Map(RerankSearches, billed, "billed_units", "search_units");
            return;
        }

        JsonElement? tokens = r.Object(u, null, "tokens");
        r.Map(Input, tokens, "tokens", "input_tokens");
        r.Map(Output, tokens, "tokens", "output_tokens");
        r.Map(CacheRead, u, null, "cached_tokens");
    }

    private static void MistralOcr(JsonElement u, RawUsageReader r, JsonElement? body)
    {
        r.Known(null, "doc_size_bytes");
        if (r.Map(DocumentPages, u, null, "pages_processed", required: true) is { } pages && body is { } response && IsAnnotated(response))
        {
            // Annotations (document or bounding-box) are billed per page on top of the OCR.
            r.Usage.Add(AnnotatedPages, pages);
        }
    }

    private static bool IsAnnotated(JsonElement body)
    {
        if (body.TryGetProperty("document_annotation", out JsonElement document) && document.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined))
        {
            return true;
        }

        if (!body.TryGetProperty("pages", out JsonElement pages) || pages.ValueKind != JsonValueKind.Array)
        {
            return false;
        }

        foreach (JsonElement page in pages.EnumerateArray())
        {
            if (page.ValueKind == JsonValueKind.Object && page.TryGetProperty("images", out JsonElement images) && images.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement image in images.EnumerateArray())
                {
                    if (image.ValueKind == JsonValueKind.Object && image.TryGetProperty("image_annotation", out JsonElement annotation)
                        && annotation.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined))
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }

    /// <summary>
    /// A cost the provider states in the body: OpenRouter's <c>usage.cost</c> (plus the upstream cost with your own
    /// key, <c>is_byok</c>, which OpenRouter does not charge but your provider does), Perplexity's
    /// <c>usage.cost.total_cost</c>.
    /// </summary>
    private static void ReadReportedCost(JsonElement u, RawUsageReader r)
    {
        if (!u.TryGetProperty("cost", out JsonElement cost))
        {
            return;
        }

        decimal? total = cost.ValueKind switch
        {
            JsonValueKind.Number when cost.TryGetDecimal(out decimal c) => c,
            JsonValueKind.Object when cost.TryGetProperty("total_cost", out JsonElement t) && t.ValueKind == JsonValueKind.Number && t.TryGetDecimal(out decimal c) => c,
            _ => null,
        };
        if (total is not { } value || value < 0)
        {
            return;
        }

        if (u.TryGetProperty("is_byok", out JsonElement byok) && byok.ValueKind == JsonValueKind.True
            && u.TryGetProperty("cost_details", out JsonElement details) && details.ValueKind == JsonValueKind.Object
            && details.TryGetProperty("upstream_inference_cost", out JsonElement upstream) && upstream.ValueKind == JsonValueKind.Number
            && upstream.TryGetDecimal(out decimal upstreamCost) && upstreamCost >= 0)
        {
            value += upstreamCost;
        }

        r.ReportedCostUsd = value;
    }

    private static void AddIfPresent(RawUsageReader r, UsageUnit unit, long? count)
    {
        if (count is { } value)
        {
            r.Usage.Add(unit, value);
        }
    }

    private static string Snake(string camel)
    {
        var builder = new System.Text.StringBuilder(camel.Length + 8);
        foreach (char c in camel)
        {
            if (char.IsUpper(c))
            {
                builder.Append('_').Append(char.ToLowerInvariant(c));
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    /// <summary>The path of the first key that appears twice in one object, anywhere in <paramref name="element"/>.</summary>
    private static string? FindDuplicateKey(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                HashSet<string>? seen = null;
                foreach (JsonProperty property in element.EnumerateObject())
                {
                    seen ??= new HashSet<string>(StringComparer.Ordinal);
                    string child = $"{path}.{property.Name}";
                    if (!seen.Add(property.Name))
                    {
                        return child;
                    }

                    if (FindDuplicateKey(property.Value, child) is { } nested)
                    {
                        return nested;
                    }
                }

                return null;
            case JsonValueKind.Array:
                int index = 0;
                foreach (JsonElement item in element.EnumerateArray())
                {
                    if (FindDuplicateKey(item, $"{path}[{index++}]") is { } nested)
                    {
                        return nested;
                    }
                }

                return null;
            default:
                return null;
        }
    }

    private static bool IsBedrockHeaders(JsonElement obj)
    {
        foreach (JsonProperty property in obj.EnumerateObject())
        {
            if (property.Name.Equals("x-amzn-bedrock-input-token-count", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Nested(JsonElement obj, string parent, string name) =>
        obj.TryGetProperty(parent, out JsonElement child) && child.ValueKind == JsonValueKind.Object && child.TryGetProperty(name, out _);

    private static int Count(JsonElement obj, params ReadOnlySpan<string> names)
    {
        int count = 0;
        foreach (string name in names)
        {
            if (obj.TryGetProperty(name, out JsonElement value) && value.ValueKind != JsonValueKind.Null)
            {
                count++;
            }
        }

        return count;
    }

    private static bool Has(JsonElement obj, params ReadOnlySpan<string> names) => Count(obj, names) > 0;
}
