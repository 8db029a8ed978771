using System.Globalization;
using System.Text.Json.Nodes;

namespace LlmCost.Cli.Tests.Corpus;

/// <summary>One provider response body with what genai-prices needs to read it.</summary>
/// <param name="Provider">The provider id the call is priced under (also what `llmcost price` is told).</param>
/// <param name="Extractor">The genai-prices provider whose extractor reads the body (null = <paramref name="Provider"/>).</param>
/// <param name="Flavor">The extractor's api_flavor.</param>
/// <param name="Kind">What the body exercises (cached, reasoning, image, audio, web search, ...), for coverage.</param>
internal sealed record CorpusCase(string Provider, string? Extractor, string Flavor, string Model, DateTimeOffset Timestamp, JsonObject Body, string Kind)
{
    public string Group => $"{Provider}/{Flavor}";
}

/// <summary>
/// Seeded, real-looking response bodies of every provider and API flavour the service reads, shaped as each
/// provider's public API reference documents them today (sources next to each template). Counts are random but
/// consistent with the provider's own convention (cached tokens within the prompt, modality details adding up to
/// their total, ...), so every body is one a provider could send.
/// </summary>
internal sealed class ProviderBodyCorpus(int seed)
{
    private readonly Random _random = new(seed);
    private readonly DateTimeOffset _from = new(2025, 9, 1, 0, 0, 0, TimeSpan.Zero);

    public List<CorpusCase> Generate(int perTemplate)
    {
        var cases = new List<CorpusCase>();
        for (int i = 0; i < perTemplate; i++)
        {
            cases.Add(OpenAiChat("openai", "openai", Pick("gpt-4o", "gpt-4o-2024-08-06", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-5", "gpt-5-mini", "o3", "o4-mini", "gpt-3.5-turbo")));
            cases.Add(OpenAiAudioChat("openai", "openai", Pick("gpt-4o-audio-preview", "gpt-4o-mini-audio-preview")));
            cases.Add(OpenAiResponses("openai", "openai", Pick("gpt-4o", "gpt-4.1", "gpt-5", "gpt-5-mini", "o3", "o4-mini", "gpt-4.1-mini")));
            cases.Add(OpenAiImages(Pick("gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2")));
            cases.Add(OpenAiRealtime("openai", "openai", Pick("gpt-realtime", "gpt-realtime-mini", "gpt-4o-realtime-preview", "gpt-4o-mini-realtime-preview")));
            cases.Add(OpenAiChat("azure", "azure", Pick("gpt-4o", "gpt-4.1", "o3-2025-04-16", "o4-mini", "gpt-4o-mini"), azure: true));
            cases.Add(OpenAiResponses("azure", "azure", Pick("gpt-4.1", "o3-2025-04-16", "gpt-5")));
            cases.Add(Anthropic("anthropic", "anthropic", "default", Pick("claude-sonnet-4-5", "claude-sonnet-4-20250514", "claude-opus-4-1", "claude-haiku-4-5", "claude-3-5-haiku-latest", "claude-opus-4-6", "claude-sonnet-4-6")));
            cases.Add(Anthropic("aws", "aws", "anthropic", Pick("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "global.anthropic.claude-haiku-4-5-20251001-v1:0", "global.anthropic.claude-sonnet-4-20250514-v1:0", "global.anthropic.claude-opus-4-6-v1:0")));
            cases.Add(Anthropic("google", "google", "anthropic", Pick("claude-sonnet-4-5", "claude-opus-4-6", "claude-3-5-haiku", "claude-sonnet-4-6")));
            cases.Add(Anthropic("azure", "azure", "anthropic", Pick("claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5")));
            cases.Add(Gemini(Pick("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite", "gemini-3-pro-preview", "gemini-2.0-flash")));
            cases.Add(GeminiImage(Pick("gemini-2.5-flash-image", "gemini-3-pro-image-preview", "gemini-3.1-flash-image-preview")));
            cases.Add(GeminiLive("gemini-3.1-flash-live-preview"));
            cases.Add(BedrockConverse(Pick("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "amazon.nova-pro-v1:0", "amazon.nova-lite-v1:0", "meta.llama3-3-70b-instruct-v1:0", "mistral.mistral-large-2402-v1:0", "global.anthropic.claude-opus-5-5", "global.anthropic.claude-haiku-4-5-20251001-v1:0")));
            cases.Add(DeepSeek(Pick("deepseek-chat", "deepseek-reasoner", "deepseek-v3.2")));
            cases.Add(MistralChat(Pick("mistral-large-latest", "mistral-small-latest", "codestral-2508", "magistral-medium", "ministral-8b-latest")));
            cases.Add(MistralTranscription("voxtral-mini-2602"));
            cases.Add(MistralOcr(Pick("mistral-ocr-2505", "mistral-ocr-2512", "mistral-ocr-latest", "mistral-ocr-2503")));
            cases.Add(Groq(Pick("llama-3.3-70b-versatile", "llama-3.1-8b-instant", "openai/gpt-oss-120b", "qwen/qwen3-32b", "moonshotai/kimi-k2-instruct")));
            cases.Add(XAiChat(Pick("grok-4-0709", "grok-3-mini", "grok-4-fast-reasoning", "grok-code-fast-1", "grok-3")));
            cases.Add(XAiVoice(Pick("grok-voice-latest", "grok-voice-think-fast-1.0")));
            cases.Add(CohereChat(Pick("command-a", "command-r-plus", "command-r7b", "command-r")));
            cases.Add(CohereEmbed("embed-v4.0"));
            cases.Add(OpenRouter(Pick("openai/gpt-4o", "anthropic/claude-sonnet-4", "anthropic/claude-3.5-haiku", "amazon/nova-pro-v1", "openai/gpt-6-luna", "anthropic/claude-opus-4.5")));
            cases.Add(Perplexity(Pick("sonar", "sonar-pro", "sonar-reasoning-pro", "sonar-deep-research")));
        }

        return cases;
    }

    // OpenAI chat completion object: https://platform.openai.com/docs/api-reference/chat/object (usage with
    // prompt_tokens_details {cached_tokens, audio_tokens} and completion_tokens_details {reasoning_tokens,
    // audio_tokens, accepted_prediction_tokens, rejected_prediction_tokens}). Azure OpenAI adds prompt_filter_results
    // and content_filter_results: https://learn.microsoft.com/azure/ai-foundry/openai/reference.
    private CorpusCase OpenAiChat(string provider, string extractor, string model, bool azure = false)
    {
        long prompt = Tokens();
        long completion = Long(1, 4_000);
        bool reasoningModel = model.StartsWith('o') || model.StartsWith("gpt-5", StringComparison.Ordinal);
        long reasoning = reasoningModel ? Long(0, completion) : 0;
        long cached = Chance(2) ? prompt / 128 * 128 * Long(0, 100) / 100 / 128 * 128 : 0;
        long accepted = Chance(8) ? Long(0, completion - reasoning) : 0;
        long rejected = Chance(8) ? Long(0, completion - reasoning - accepted) : 0;
        var usage = new JsonObject
        {
            ["prompt_tokens"] = prompt,
            ["completion_tokens"] = completion,
            ["total_tokens"] = prompt + completion,
        };
        if (!model.StartsWith("gpt-3.5", StringComparison.Ordinal))
        {
            usage["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = cached, ["audio_tokens"] = 0 };
            usage["completion_tokens_details"] = new JsonObject
            {
                ["reasoning_tokens"] = reasoning, ["audio_tokens"] = 0, ["accepted_prediction_tokens"] = accepted, ["rejected_prediction_tokens"] = rejected,
            };
        }

        var body = new JsonObject
        {
            ["id"] = "chatcmpl-" + Id(29),
            ["object"] = "chat.completion",
            ["created"] = Long(1_740_000_000, 1_790_000_000),
            ["model"] = model,
            ["choices"] = Choices(azure),
            ["usage"] = usage,
            ["service_tier"] = "default",
            ["system_fingerprint"] = "fp_" + Id(10),
        };
        if (azure)
        {
            body["prompt_filter_results"] = new JsonArray(new JsonObject { ["prompt_index"] = 0, ["content_filter_results"] = new JsonObject { ["hate"] = new JsonObject { ["filtered"] = false, ["severity"] = "safe" } } });
        }

        string kind = reasoning > 0 ? "reasoning" : cached > 0 ? "cached" : accepted + rejected > 0 ? "predicted-output" : "text";
        return new CorpusCase(provider, extractor, "chat", model, Time(), body, kind);
    }

    // Audio in and out (gpt-4o-audio-preview): https://platform.openai.com/docs/guides/audio; the details split the
    // prompt and the completion into text and audio tokens.
    private CorpusCase OpenAiAudioChat(string provider, string extractor, string model)
    {
        long audioIn = Long(0, 20_000);
        long textIn = Long(1, 10_000);
        long audioOut = Long(0, 8_000);
        long textOut = Long(1, 2_000);
        long cached = Chance(4) ? Long(0, textIn) / 64 * 64 : 0;
        var body = new JsonObject
        {
            ["id"] = "chatcmpl-" + Id(29),
            ["object"] = "chat.completion",
            ["created"] = Long(1_740_000_000, 1_790_000_000),
            ["model"] = model,
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = null, ["audio"] = new JsonObject { ["id"] = "audio_" + Id(20), ["expires_at"] = 1_790_000_000, ["data"] = "UklGRg==", ["transcript"] = "Sure." } },
                ["finish_reason"] = "stop",
            }),
            ["usage"] = new JsonObject
            {
                ["prompt_tokens"] = audioIn + textIn,
                ["completion_tokens"] = audioOut + textOut,
                ["total_tokens"] = audioIn + textIn + audioOut + textOut,
                ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = cached, ["audio_tokens"] = audioIn, ["text_tokens"] = textIn, ["image_tokens"] = 0 },
                ["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = 0, ["audio_tokens"] = audioOut, ["text_tokens"] = textOut, ["accepted_prediction_tokens"] = 0, ["rejected_prediction_tokens"] = 0 },
            },
        };
        return new CorpusCase(provider, extractor, "chat", model, Time(), body, "audio");
    }

    // Responses API object: https://platform.openai.com/docs/api-reference/responses/object (usage with
    // input_tokens_details.cached_tokens and output_tokens_details.reasoning_tokens; hosted tool calls are output
    // items: web_search_call https://platform.openai.com/docs/guides/tools-web-search, file_search_call).
    private CorpusCase OpenAiResponses(string provider, string extractor, string model)
    {
        long input = Tokens();
        long output = Long(1, 6_000);
        long reasoning = model.StartsWith('o') || model.StartsWith("gpt-5", StringComparison.Ordinal) ? Long(0, output) : 0;
        long cached = Chance(2) ? Long(0, input) / 128 * 128 : 0;
        var items = new JsonArray();
        if (reasoning > 0)
        {
            items.Add(new JsonObject { ["type"] = "reasoning", ["id"] = "rs_" + Id(24), ["summary"] = new JsonArray() });
        }

        int searches = Chance(3) ? (int)Long(1, 4) : 0;
        for (int i = 0; i < searches; i++)
        {
            string action = Chance(4) ? "open_page" : "search";
            items.Add(new JsonObject
            {
                ["type"] = "web_search_call", ["id"] = "ws_" + Id(24), ["status"] = "completed",
                ["action"] = action == "search" ? new JsonObject { ["type"] = "search", ["query"] = "weather berlin" } : new JsonObject { ["type"] = "open_page", ["url"] = "https://example.com" },
            });
        }

        int fileSearches = Chance(5) ? (int)Long(1, 3) : 0;
        for (int i = 0; i < fileSearches; i++)
        {
            items.Add(new JsonObject { ["type"] = "file_search_call", ["id"] = "fs_" + Id(24), ["status"] = "completed", ["queries"] = new JsonArray("pricing"), ["results"] = null });
        }

        items.Add(new JsonObject
        {
            ["type"] = "message", ["id"] = "msg_" + Id(24), ["status"] = "completed", ["role"] = "assistant",
            ["content"] = new JsonArray(new JsonObject { ["type"] = "output_text", ["text"] = "Done.", ["annotations"] = new JsonArray() }),
        });
        var body = new JsonObject
        {
            ["id"] = "resp_" + Id(40),
            ["object"] = "response",
            ["created_at"] = Long(1_740_000_000, 1_790_000_000),
            ["status"] = "completed",
            ["error"] = null,
            ["model"] = model,
            ["output"] = items,
            ["usage"] = new JsonObject
            {
                ["input_tokens"] = input,
                ["input_tokens_details"] = new JsonObject { ["cached_tokens"] = cached },
                ["output_tokens"] = output,
                ["output_tokens_details"] = new JsonObject { ["reasoning_tokens"] = reasoning },
                ["total_tokens"] = input + output,
            },
        };
        string kind = searches > 0 ? "web-search" : fileSearches > 0 ? "file-search" : reasoning > 0 ? "reasoning" : cached > 0 ? "cached" : "text";
        return new CorpusCase(provider, extractor, "responses", model, Time(), body, kind);
    }

    // Image generation / edit: https://platform.openai.com/docs/api-reference/images/object (usage: input_tokens with
    // input_tokens_details {text_tokens, image_tokens}, output_tokens, output_tokens_details on newer models).
    private CorpusCase OpenAiImages(string model)
    {
        long text = Long(5, 400);
        long image = Chance(2) ? Long(0, 6_000) : 0;
        long outputImage = Pick(272L, 1056L, 4160L, 6240L) * Long(1, 4);
        long outputText = Chance(3) ? Long(0, 200) : 0;
        var usage = new JsonObject
        {
            ["input_tokens"] = text + image,
            ["input_tokens_details"] = new JsonObject { ["image_tokens"] = image, ["text_tokens"] = text },
            ["output_tokens"] = outputImage + outputText,
            ["total_tokens"] = text + image + outputImage + outputText,
        };
        if (Chance(2))
        {
            usage["output_tokens_details"] = new JsonObject { ["image_tokens"] = outputImage, ["text_tokens"] = outputText };
        }

        var body = new JsonObject
        {
            ["created"] = Long(1_740_000_000, 1_790_000_000),
            ["data"] = new JsonArray(new JsonObject { ["b64_json"] = "iVBORw0KGgo=" }),
            ["background"] = "opaque",
            ["output_format"] = "png",
            ["quality"] = Pick("low", "medium", "high"),
            ["size"] = Pick("1024x1024", "1024x1536", "1536x1024"),
            ["usage"] = usage,
        };
        return new CorpusCase("openai", "openai", "images", model, Time(), body, image > 0 ? "image-edit" : "image");
    }

    // Realtime response.done: https://platform.openai.com/docs/api-reference/realtime-server-events/response/done
    // (usage with input_token_details {text_tokens, audio_tokens, image_tokens, cached_tokens, cached_tokens_details}
    // and output_token_details {text_tokens, audio_tokens}).
    private CorpusCase OpenAiRealtime(string provider, string extractor, string model)
    {
        long text = Long(10, 8_000), audio = Long(0, 20_000), image = Chance(4) ? Long(0, 3_000) : 0;
        long cachedText = Chance(2) ? Long(0, text) : 0, cachedAudio = Chance(2) ? Long(0, audio) : 0, cachedImage = Long(0, image);
        long outText = Long(0, 800), outAudio = Long(0, 6_000);
        var body = new JsonObject
        {
            ["type"] = "response.done",
            ["event_id"] = "event_" + Id(20),
            ["response"] = new JsonObject
            {
                ["object"] = "realtime.response",
                ["id"] = "resp_" + Id(20),
                ["status"] = "completed",
                ["output"] = new JsonArray(),
                ["usage"] = new JsonObject
                {
                    ["total_tokens"] = text + audio + image + outText + outAudio,
                    ["input_tokens"] = text + audio + image,
                    ["output_tokens"] = outText + outAudio,
                    ["input_token_details"] = new JsonObject
                    {
                        ["text_tokens"] = text, ["audio_tokens"] = audio, ["image_tokens"] = image,
                        ["cached_tokens"] = cachedText + cachedAudio + cachedImage,
                        ["cached_tokens_details"] = new JsonObject { ["text_tokens"] = cachedText, ["audio_tokens"] = cachedAudio, ["image_tokens"] = cachedImage },
                    },
                    ["output_token_details"] = new JsonObject { ["text_tokens"] = outText, ["audio_tokens"] = outAudio },
                },
            },
        };
        return new CorpusCase(provider, extractor, "realtime", model, Time(), body, image > 0 ? "realtime-image" : "realtime-audio");
    }

    // Anthropic Messages: https://docs.anthropic.com/en/api/messages (usage: input_tokens EXCLUDING cache,
    // cache_creation_input_tokens, cache_read_input_tokens, cache_creation {ephemeral_5m_input_tokens,
    // ephemeral_1h_input_tokens}, output_tokens, server_tool_use {web_search_requests, web_fetch_requests},
    // service_tier); server-side compaction adds usage.iterations (platform.claude.com/docs/en/build-with-claude/compaction).
    // The same body comes back from Bedrock InvokeModel, Vertex rawPredict and Azure Foundry.
    private CorpusCase Anthropic(string provider, string extractor, string flavor, string model)
    {
        long uncached = Long(1, 40_000);
        if (Chance(12))
        {
            uncached = Long(180_000, 400_000); // long context: the >200k tier of the models that have one
        }

        long read = Chance(2) ? Long(0, 150_000) : 0;
        long write5m = Chance(3) ? Long(0, 20_000) : 0;
        long write1h = Chance(4) ? Long(0, 20_000) : 0;
        long output = Long(1, 8_000);
        var usage = new JsonObject
        {
            ["input_tokens"] = uncached,
            ["cache_creation_input_tokens"] = write5m + write1h,
            ["cache_read_input_tokens"] = read,
            ["cache_creation"] = new JsonObject { ["ephemeral_5m_input_tokens"] = write5m, ["ephemeral_1h_input_tokens"] = write1h },
            ["output_tokens"] = output,
            ["service_tier"] = "standard",
        };
        string kind = write1h > 0 ? "cache-1h" : read > 0 ? "cached" : uncached > 150_000 ? "long-context" : "text";
        if (Chance(3))
        {
            long searches = Long(0, 6);
            usage["server_tool_use"] = new JsonObject { ["web_search_requests"] = searches, ["web_fetch_requests"] = Long(0, 3) };
            kind = searches > 0 ? "web-search" : kind;
        }

        if (Chance(5))
        {
            usage["output_tokens_details"] = new JsonObject { ["thinking_tokens"] = Long(0, output) };
            kind = "reasoning";
        }

        if (flavor == "default" && Chance(8))
        {
            // Compaction: the summary pass read the whole history; the top-level usage is the message pass only.
            long history = Long(50_000, 220_000);
            usage["iterations"] = new JsonArray(
                new JsonObject { ["type"] = "compaction", ["input_tokens"] = history, ["output_tokens"] = Long(500, 4_000), ["cache_read_input_tokens"] = 0, ["cache_creation_input_tokens"] = 0 },
                new JsonObject { ["type"] = "message", ["input_tokens"] = uncached, ["output_tokens"] = output, ["cache_read_input_tokens"] = read, ["cache_creation_input_tokens"] = write5m + write1h });
            kind = "compaction";
        }

        var body = new JsonObject
        {
            ["id"] = "msg_" + Id(24),
            ["type"] = "message",
            ["role"] = "assistant",
            ["model"] = model,
            ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = "Here is the answer." }),
            ["stop_reason"] = "end_turn",
            ["stop_sequence"] = null,
            ["usage"] = usage,
        };
        return new CorpusCase(provider, extractor, flavor, model, Time(), body, kind);
    }

    // Gemini generateContent: https://ai.google.dev/api/generate-content#UsageMetadata (promptTokenCount INCLUDES
    // cachedContentTokenCount; promptTokensDetails / cacheTokensDetails / candidatesTokensDetails /
    // toolUsePromptTokensDetails are ModalityTokenCount lists; thoughtsTokenCount is billed as output).
    private CorpusCase Gemini(string model)
    {
        long text = Tokens(), image = Chance(3) ? Long(0, 5_000) : 0, audio = Chance(4) ? Long(0, 20_000) : 0;
        long video = Chance(6) ? Long(0, 60_000) : 0, document = Chance(6) ? Long(0, 8_000) : 0;
        long cachedText = Chance(3) ? Long(0, text) : 0, cachedAudio = Chance(6) ? Long(0, audio) : 0;
        long tool = Chance(5) ? Long(0, 6_000) : 0;
        long candidates = Long(1, 6_000);
        long thoughts = model.Contains("2.0", StringComparison.Ordinal) ? 0 : Long(0, 10_000);
        var prompt = Modalities(("TEXT", text), ("IMAGE", image), ("AUDIO", audio), ("VIDEO", video), ("DOCUMENT", document));
        var metadata = new JsonObject
        {
            ["promptTokenCount"] = text + image + audio + video + document,
            ["candidatesTokenCount"] = candidates,
            ["totalTokenCount"] = text + image + audio + video + document + candidates + thoughts + tool,
            ["promptTokensDetails"] = prompt,
            ["candidatesTokensDetails"] = Modalities(("TEXT", candidates)),
        };
        if (thoughts > 0)
        {
            metadata["thoughtsTokenCount"] = thoughts;
        }

        if (cachedText + cachedAudio > 0)
        {
            metadata["cachedContentTokenCount"] = cachedText + cachedAudio;
            metadata["cacheTokensDetails"] = Modalities(("TEXT", cachedText), ("AUDIO", cachedAudio));
        }

        if (tool > 0)
        {
            metadata["toolUsePromptTokenCount"] = tool;
            metadata["toolUsePromptTokensDetails"] = Modalities(("TEXT", tool));
        }

        if (Chance(4))
        {
            metadata["trafficType"] = "ON_DEMAND";
        }

        string kind = tool > 0 ? "tool-use" : video > 0 ? "video" : audio > 0 ? "audio" : image + document > 0 ? "image-input" : cachedText > 0 ? "cached" : thoughts > 0 ? "reasoning" : "text";
        return new CorpusCase("google", "google", "default", model, Time(), GeminiBody(model, metadata), kind);
    }

    // Image generation (Nano Banana): candidatesTokensDetails carries the IMAGE tokens, priced apart
    // (https://ai.google.dev/gemini-api/docs/image-generation; pricing per image = 1290 output image tokens).
    private CorpusCase GeminiImage(string model)
    {
        long text = Long(5, 2_000), image = Chance(2) ? Long(0, 2_580) : 0;
        long outImage = 1290 * Long(1, 4), outText = Long(0, 300), thoughts = model.Contains("3", StringComparison.Ordinal) ? Long(0, 600) : 0;
        var metadata = new JsonObject
        {
            ["promptTokenCount"] = text + image,
            ["candidatesTokenCount"] = outImage + outText,
            ["totalTokenCount"] = text + image + outImage + outText + thoughts,
            ["promptTokensDetails"] = Modalities(("TEXT", text), ("IMAGE", image)),
            ["candidatesTokensDetails"] = Modalities(("TEXT", outText), ("IMAGE", outImage)),
        };
        if (thoughts > 0)
        {
            metadata["thoughtsTokenCount"] = thoughts;
        }

        return new CorpusCase("google", "google", "default", model, Time(), GeminiBody(model, metadata), "image-generation");
    }

    // Live API: audio/video in, audio out (https://ai.google.dev/api/live#UsageMetadata: responseTokenCount and
    // responseTokensDetails stand for the candidates; here in generateContent form, as a Live session summary).
    private CorpusCase GeminiLive(string model)
    {
        long text = Long(10, 4_000), audio = Long(0, 30_000), video = Chance(2) ? Long(0, 40_000) : 0;
        long outAudio = Long(0, 20_000), outText = Long(0, 500);
        var metadata = new JsonObject
        {
            ["promptTokenCount"] = text + audio + video,
            ["candidatesTokenCount"] = outAudio + outText,
            ["totalTokenCount"] = text + audio + video + outAudio + outText,
            ["promptTokensDetails"] = Modalities(("TEXT", text), ("AUDIO", audio), ("VIDEO", video)),
            ["candidatesTokensDetails"] = Modalities(("TEXT", outText), ("AUDIO", outAudio)),
        };
        return new CorpusCase("google", "google", "default", model, Time(), GeminiBody(model, metadata), "live-audio-video");
    }

    // Bedrock Converse: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html, TokenUsage
    // (inputTokens EXCLUDES cacheReadInputTokens / cacheWriteInputTokens; cacheDetails splits writes by ttl 5m | 1h).
    private CorpusCase BedrockConverse(string model)
    {
        long input = Long(1, 60_000), output = Long(1, 6_000);
        bool claude = model.Contains("claude", StringComparison.Ordinal);
        long read = (claude || model.Contains("nova", StringComparison.Ordinal)) && Chance(2) ? Long(0, 100_000) : 0;
        long w5 = claude && Chance(3) ? Long(0, 20_000) : 0, w1 = claude && Chance(4) ? Long(0, 20_000) : 0;
        var usage = new JsonObject { ["inputTokens"] = input, ["outputTokens"] = output, ["totalTokens"] = input + output + read + w5 + w1 };
        if (read + w5 + w1 > 0 || Chance(3))
        {
            usage["cacheReadInputTokens"] = read;
            usage["cacheWriteInputTokens"] = w5 + w1;
        }

        if (w5 + w1 > 0 && Chance(2))
        {
            var details = new JsonArray();
            if (w1 > 0)
            {
                details.Add(new JsonObject { ["ttl"] = "1h", ["inputTokens"] = w1 });
            }

            if (w5 > 0)
            {
                details.Add(new JsonObject { ["ttl"] = "5m", ["inputTokens"] = w5 });
            }

            usage["cacheDetails"] = details;
        }

        var body = new JsonObject
        {
            ["output"] = new JsonObject { ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = new JsonArray(new JsonObject { ["text"] = "Hello." }) } },
            ["stopReason"] = "end_turn",
            ["usage"] = usage,
            ["metrics"] = new JsonObject { ["latencyMs"] = Long(100, 9_000) },
        };
        return new CorpusCase("aws", "aws", "default", model, Time(), body, w1 > 0 ? "cache-1h" : read > 0 ? "cached" : "text");
    }

    // DeepSeek chat completion: https://api-docs.deepseek.com/api/create-chat-completion (usage with
    // prompt_cache_hit_tokens + prompt_cache_miss_tokens = prompt_tokens, completion_tokens_details.reasoning_tokens;
    // newer responses also carry prompt_tokens_details.cached_tokens).
    private CorpusCase DeepSeek(string model)
    {
        long prompt = Tokens(), hit = Chance(2) ? Long(0, prompt) / 64 * 64 : 0, completion = Long(1, 8_000);
        long reasoning = model == "deepseek-reasoner" ? Long(0, completion) : 0;
        var usage = new JsonObject
        {
            ["prompt_tokens"] = prompt,
            ["completion_tokens"] = completion,
            ["total_tokens"] = prompt + completion,
            ["prompt_cache_hit_tokens"] = hit,
            ["prompt_cache_miss_tokens"] = prompt - hit,
        };
        if (Chance(2))
        {
            usage["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = hit };
        }

        if (reasoning > 0)
        {
            usage["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = reasoning };
        }

        var body = new JsonObject
        {
            ["id"] = Id(32),
            ["object"] = "chat.completion",
            ["created"] = Long(1_740_000_000, 1_790_000_000),
            ["model"] = model,
            ["choices"] = Choices(false),
            ["usage"] = usage,
            ["system_fingerprint"] = "fp_" + Id(10),
        };
        return new CorpusCase("deepseek", "deepseek", "chat", model, Time(), body, reasoning > 0 ? "reasoning" : hit > 0 ? "cached" : "text");
    }

    // Mistral chat: https://docs.mistral.ai/api/#tag/chat (usage {prompt_tokens, completion_tokens, total_tokens}).
    private CorpusCase MistralChat(string model)
    {
        long prompt = Tokens(), completion = Long(1, 4_000);
        var body = new JsonObject
        {
            ["id"] = Id(32),
            ["object"] = "chat.completion",
            ["model"] = model,
            ["usage"] = new JsonObject { ["prompt_tokens"] = prompt, ["completion_tokens"] = completion, ["total_tokens"] = prompt + completion },
            ["created"] = Long(1_740_000_000, 1_790_000_000),
            ["choices"] = Choices(false),
        };
        return new CorpusCase("mistral", "mistral", "default", model, Time(), body, "text");
    }

    // Mistral transcription: https://docs.mistral.ai/api/#tag/audio.transcriptions (usage carries
    // prompt_audio_seconds, the billed audio length, next to the tokens).
    private CorpusCase MistralTranscription(string model)
    {
        long seconds = Long(1, 3_600), prompt = Long(1, 50), completion = Long(1, 5_000);
        var body = new JsonObject
        {
            ["model"] = model,
            ["text"] = "Hello world.",
            ["language"] = "en",
            ["segments"] = new JsonArray(),
            ["usage"] = new JsonObject { ["prompt_audio_seconds"] = seconds, ["prompt_tokens"] = prompt, ["total_tokens"] = prompt + completion, ["completion_tokens"] = completion },
        };
        return new CorpusCase("mistral", "mistral", "default", model, Time(), body, "transcription");
    }

    // Mistral OCR: https://docs.mistral.ai/api/#tag/ocr (usage_info {pages_processed, doc_size_bytes};
    // document_annotation is set when an annotation format was requested, billed per page on top).
    private CorpusCase MistralOcr(string model)
    {
        long pages = Long(1, 400);
        bool annotated = model != "mistral-ocr-2503" && Chance(2);
        var body = new JsonObject
        {
            ["pages"] = new JsonArray(new JsonObject { ["index"] = 0, ["markdown"] = "# Title", ["images"] = new JsonArray(), ["dimensions"] = new JsonObject { ["dpi"] = 200, ["height"] = 2200, ["width"] = 1700 } }),
            ["model"] = model,
            ["document_annotation"] = annotated ? "{\"title\":\"Invoice\"}" : null,
            ["usage_info"] = new JsonObject { ["pages_processed"] = pages, ["doc_size_bytes"] = Long(10_000, 50_000_000) },
        };
        return new CorpusCase("mistral", "mistral", annotated ? "ocr_annotated" : "ocr", model, Time(), body, annotated ? "ocr-annotated" : "ocr");
    }

    // Groq chat completion: https://console.groq.com/docs/api-reference#chat-create (usage adds queue_time,
    // prompt_time, completion_time, total_time; x_groq carries the request id).
    private CorpusCase Groq(string model)
    {
        long prompt = Tokens(), completion = Long(1, 4_000);
        var usage = new JsonObject
        {
            ["queue_time"] = 0.0123, ["prompt_tokens"] = prompt, ["prompt_time"] = 0.0041, ["completion_tokens"] = completion,
            ["completion_time"] = 0.4, ["total_tokens"] = prompt + completion, ["total_time"] = 0.4041,
        };
        if (model.Contains("kimi", StringComparison.Ordinal) && Chance(2))
        {
            usage["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = Long(0, prompt) };
        }

        var body = new JsonObject
        {
            ["id"] = "chatcmpl-" + Id(26),
            ["object"] = "chat.completion",
            ["created"] = Long(1_740_000_000, 1_790_000_000),
            ["model"] = model,
            ["choices"] = Choices(false),
            ["usage"] = usage,
            ["usage_breakdown"] = null,
            ["system_fingerprint"] = "fp_" + Id(10),
            ["x_groq"] = new JsonObject { ["id"] = "req_" + Id(26) },
        };
        return new CorpusCase("groq", "groq", "default", model, Time(), body, "text");
    }

    // xAI chat completion: https://docs.x.ai/docs/api-reference#chat-completions (prompt_tokens_details by modality
    // plus cached_tokens; completion_tokens EXCLUDES completion_tokens_details.reasoning_tokens: total_tokens =
    // prompt + completion + reasoning).
    private CorpusCase XAiChat(string model)
    {
        long text = Tokens(), image = Chance(5) ? Long(0, 3_000) : 0, cached = Chance(2) ? Long(0, text) : 0;
        long completion = Long(1, 3_000), reasoning = model.Contains("mini", StringComparison.Ordinal) || model.Contains("reasoning", StringComparison.Ordinal) || model.StartsWith("grok-4-0", StringComparison.Ordinal) ? Long(0, 12_000) : 0;
        var body = new JsonObject
        {
            ["id"] = Id(32),
            ["object"] = "chat.completion",
            ["created"] = Long(1_740_000_000, 1_790_000_000),
            ["model"] = model,
            ["choices"] = Choices(false),
            ["usage"] = new JsonObject
            {
                ["prompt_tokens"] = text + image,
                ["completion_tokens"] = completion,
                ["total_tokens"] = text + image + completion + reasoning,
                ["prompt_tokens_details"] = new JsonObject { ["text_tokens"] = text, ["audio_tokens"] = 0, ["image_tokens"] = image, ["cached_tokens"] = cached },
                ["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = reasoning, ["audio_tokens"] = 0, ["accepted_prediction_tokens"] = 0, ["rejected_prediction_tokens"] = 0 },
                ["num_sources_used"] = 0,
            },
            ["system_fingerprint"] = "fp_" + Id(10),
        };
        return new CorpusCase("x-ai", "x-ai", "chat", model, Time(), body, reasoning > 0 ? "reasoning" : image > 0 ? "image-input" : "text");
    }

    // xAI Voice Agent API: billed per audio hour and per text message (https://docs.x.ai/docs/guides/voice; the
    // usage block genai-prices reads: billable_audio_seconds, input_text_messages, token details by modality).
    private CorpusCase XAiVoice(string model)
    {
        long textIn = Long(0, 2_000), audioIn = Long(0, 20_000), textOut = Long(0, 800), audioOut = Long(0, 20_000);
        var body = new JsonObject
        {
            ["type"] = "response.done",
            ["event_id"] = "event_" + Id(16),
            ["usage"] = new JsonObject
            {
                ["input_tokens"] = textIn + audioIn,
                ["output_tokens"] = textOut + audioOut,
                ["input_token_details"] = new JsonObject { ["text_tokens"] = textIn, ["audio_tokens"] = audioIn },
                ["output_token_details"] = new JsonObject { ["text_tokens"] = textOut, ["audio_tokens"] = audioOut },
                ["billable_audio_seconds"] = Long(1, 3_600),
                ["input_text_messages"] = Long(0, 30),
            },
        };
        return new CorpusCase("x-ai", "x-ai", "realtime", model, Time(), body, "voice");
    }

    // Cohere v2 chat: https://docs.cohere.com/reference/chat (usage.billed_units {input_tokens, output_tokens} is what
    // is billed; usage.tokens counts the prompt template too).
    private CorpusCase CohereChat(string model)
    {
        long billedIn = Tokens(), output = Long(1, 4_000);
        var body = new JsonObject
        {
            ["id"] = Id(32),
            ["finish_reason"] = "COMPLETE",
            ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = "Hi." }) },
            ["usage"] = new JsonObject
            {
                ["billed_units"] = new JsonObject { ["input_tokens"] = billedIn, ["output_tokens"] = output },
                ["tokens"] = new JsonObject { ["input_tokens"] = billedIn + Long(50, 600), ["output_tokens"] = output },
                ["cached_tokens"] = 0,
            },
        };
        return new CorpusCase("cohere", "cohere", "default", model, Time(), body, "text");
    }

    // Cohere v2 embed: https://docs.cohere.com/reference/embed (meta.billed_units.input_tokens).
    private CorpusCase CohereEmbed(string model)
    {
        var body = new JsonObject
        {
            ["id"] = Id(32),
            ["embeddings"] = new JsonObject { ["float"] = new JsonArray(new JsonArray(0.1, 0.2)) },
            ["texts"] = new JsonArray("hello"),
            ["meta"] = new JsonObject { ["api_version"] = new JsonObject { ["version"] = "2" }, ["billed_units"] = new JsonObject { ["input_tokens"] = Long(1, 100_000) } },
            ["response_type"] = "embeddings_by_type",
        };
        return new CorpusCase("cohere", "cohere", "embeddings", model, Time(), body, "embedding");
    }

    // OpenRouter: https://openrouter.ai/docs/use-cases/usage-accounting (usage adds cost, is_byok, cost_details,
    // prompt_tokens_details {cached_tokens, cache_write_tokens, audio_tokens}, completion_tokens_details
    // {reasoning_tokens, image_tokens}, server_tool_use.web_search_requests).
    private CorpusCase OpenRouter(string model)
    {
        long prompt = Tokens(), cached = Chance(2) ? Long(0, prompt) : 0, write = Chance(4) ? Long(0, prompt - cached) : 0;
        long completion = Long(1, 5_000), reasoning = Chance(3) ? Long(0, completion) : 0;
        var usage = new JsonObject
        {
            ["prompt_tokens"] = prompt,
            ["completion_tokens"] = completion,
            ["total_tokens"] = prompt + completion,
            ["cost"] = Math.Round(prompt * 0.000002 + completion * 0.00001, 8),
            ["is_byok"] = false,
            ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = cached, ["cache_write_tokens"] = write, ["audio_tokens"] = 0 },
            ["cost_details"] = new JsonObject { ["upstream_inference_cost"] = null, ["upstream_inference_prompt_cost"] = 0.0008, ["upstream_inference_completions_cost"] = 0.0004 },
            ["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = reasoning, ["image_tokens"] = 0 },
        };
        string kind = cached > 0 ? "cached" : reasoning > 0 ? "reasoning" : "text";
        if (model.Contains("gpt-6", StringComparison.Ordinal) && Chance(2))
        {
            usage["server_tool_use"] = new JsonObject { ["web_search_requests"] = Long(1, 5) };
            kind = "web-search";
        }

        var body = new JsonObject
        {
            ["id"] = "gen-" + Id(24),
            ["provider"] = Pick("OpenAI", "Anthropic", "Amazon Bedrock"),
            ["model"] = model,
            ["object"] = "chat.completion",
            ["created"] = Long(1_740_000_000, 1_790_000_000),
            ["choices"] = Choices(false),
            ["usage"] = usage,
        };
        return new CorpusCase("openrouter", "openrouter", "chat", model, Time(), body, kind);
    }

    // Perplexity: https://docs.perplexity.ai/api-reference/chat-completions-post (usage with search_context_size,
    // citation_tokens, num_search_queries, reasoning_tokens for deep research, and a cost object).
    private CorpusCase Perplexity(string model)
    {
        long prompt = Long(5, 4_000), completion = Long(1, 4_000);
        var usage = new JsonObject { ["prompt_tokens"] = prompt, ["completion_tokens"] = completion, ["total_tokens"] = prompt + completion, ["search_context_size"] = Pick("low", "medium", "high") };
        string kind = "web-search";
        if (model == "sonar-deep-research")
        {
            long citations = Long(0, 20_000), reasoning = Long(0, 60_000);
            usage["citation_tokens"] = citations;
            usage["num_search_queries"] = Long(1, 30);
            usage["reasoning_tokens"] = reasoning;
            usage["total_tokens"] = prompt + completion + citations + reasoning;
            kind = "deep-research";
        }

        usage["cost"] = new JsonObject { ["input_tokens_cost"] = 0.0001, ["output_tokens_cost"] = 0.0002, ["request_cost"] = 0.005, ["total_cost"] = 0.0053 };
        var body = new JsonObject
        {
            ["id"] = Id(32),
            ["model"] = model,
            ["created"] = Long(1_740_000_000, 1_790_000_000),
            ["usage"] = usage,
            ["citations"] = new JsonArray("https://example.com"),
            ["object"] = "chat.completion",
            ["choices"] = Choices(false),
        };
        return new CorpusCase("perplexity", "perplexity", "default", model, Time(), body, kind);
    }

    private static JsonObject GeminiBody(string model, JsonObject metadata) => new()
    {
        ["candidates"] = new JsonArray(new JsonObject
        {
            ["content"] = new JsonObject { ["parts"] = new JsonArray(new JsonObject { ["text"] = "Here you go." }), ["role"] = "model" },
            ["finishReason"] = "STOP",
            ["index"] = 0,
        }),
        ["usageMetadata"] = metadata,
        ["modelVersion"] = model,
        ["responseId"] = "resp-" + model.Length.ToString(CultureInfo.InvariantCulture),
    };

    private static JsonArray Modalities(params (string Modality, long Count)[] counts)
    {
        var list = new JsonArray();
        foreach ((string modality, long count) in counts)
        {
            if (count > 0)
            {
                list.Add(new JsonObject { ["modality"] = modality, ["tokenCount"] = count });
            }
        }

        return list;
    }

    private static JsonArray Choices(bool azure)
    {
        var choice = new JsonObject
        {
            ["index"] = 0,
            ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = "Sure.", ["refusal"] = null },
            ["logprobs"] = null,
            ["finish_reason"] = "stop",
        };
        if (azure)
        {
            choice["content_filter_results"] = new JsonObject { ["hate"] = new JsonObject { ["filtered"] = false, ["severity"] = "safe" } };
        }

        return new JsonArray(choice);
    }

    /// <summary>A prompt size: mostly ordinary, sometimes past the 128k/200k long-context tiers.</summary>
    private long Tokens() => _random.Next(10) switch
    {
        0 => Long(1, 100),
        9 => Long(128_000, 900_000),
        _ => Long(100, 60_000),
    };

    private DateTimeOffset Time() => _from.AddMinutes(_random.Next(0, 60 * 24 * 420));

    private long Long(long min, long max) => max <= min ? min : _random.NextInt64(min, max + 1);

    private bool Chance(int oneIn) => _random.Next(oneIn) == 0;

    private T Pick<T>(params T[] items) => items[_random.Next(items.Length)];

    private string Id(int length)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        return string.Create(length, _random, (span, random) =>
        {
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = alphabet[random.Next(alphabet.Length)];
            }
        });
    }
}
