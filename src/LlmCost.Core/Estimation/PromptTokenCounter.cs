using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace LlmCost.Core.Estimation;

/// <summary>Which tokenizer family a model belongs to (decides exact count vs estimate).</summary>
public enum ModelFamily
{
    OpenAi,
    Anthropic,
    Gemini,
    Other,
}

/// <summary>
/// Counts the input tokens of a chat prompt before the call is made.
/// </summary>
/// <remarks>
/// <para><b>OpenAI family (exact):</b> text is tokenized with the model's tiktoken encoding
/// (<see cref="TokenizerCache.EncodingForModel"/>). Chat framing follows the OpenAI Cookbook "How to count tokens
/// with tiktoken" (examples/How_to_count_tokens_with_tiktoken.ipynb, section 6), whose counts match the API's
/// <c>usage.prompt_tokens</c>: 3 tokens per message, the tokens of every field value (role, content, name),
/// 1 more per <c>name</c>, and 3 for the reply priming (<c>&lt;|start|&gt;assistant&lt;|message|&gt;</c>).
/// Tool definitions follow section 7 (<c>num_tokens_for_tools</c>): per function 7 (o200k models; 10 for
/// cl100k models) + tokens of <c>"name:description"</c> (trailing period dropped); if it has properties 3, then
/// per property 3 + tokens of <c>"key:type:description"</c>, and for an enum -3 + per item 3 + its tokens; 12 at
/// the end. Nested schema parts the cookbook formula does not cover are added as the tokens of their JSON text
/// (an over- rather than under-estimate). Images use <see cref="ImageTokens.OpenAi"/>.</para>
/// <para><b>Anthropic and Gemini (estimates):</b> neither publishes a tokenizer. Text is counted with o200k_base
/// and multiplied by a safety factor: <see cref="AnthropicFactor"/> (Claude's tokenizers produce roughly 1.1-1.3x
/// o200k's count on English prose and code in public comparisons, and Anthropic says its newest tokenizer uses
/// up to 35% more tokens than before) and <see cref="GeminiFactor"/> (Gemini's 256k SentencePiece vocabulary
/// lands close to o200k). Framing adds <see cref="EstimatedTokensPerMessage"/> per message plus 3; Anthropic tool
/// use adds its documented tool-use system prompt (<see cref="AnthropicToolSystemPromptTokens"/>, Claude 4 with
/// tool_choice auto) plus the tool JSON. Images use the providers' own formulas (not multiplied). These are
/// estimates for budget checks: they err high on purpose.</para>
/// <para>Other models: the same o200k-based estimate with <see cref="AnthropicFactor"/>.</para>
/// </remarks>
public sealed class PromptTokenCounter
{
    public const decimal AnthropicFactor = 1.35m;
    public const decimal GeminiFactor = 1.15m;
    public const int EstimatedTokensPerMessage = 4;
    public const int AnthropicToolSystemPromptTokens = 346;

    private const int OpenAiTokensPerMessage = 3;
    private const int OpenAiTokensPerName = 1;
    private const int ReplyPriming = 3;

    /// <summary>A shared instance (the tokenizers it uses are process-wide and thread-safe).</summary>
    public static PromptTokenCounter Default { get; } = new();

    /// <summary>Which family <paramref name="model"/> (served by <paramref name="provider"/>) belongs to.</summary>
    public static ModelFamily FamilyOf(string? provider, string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        string name = model.ToLowerInvariant();
        string p = provider?.Trim().ToLowerInvariant() ?? "";
        if (name.Contains("claude", StringComparison.Ordinal) || p == "anthropic")
        {
            return ModelFamily.Anthropic;
        }

        if (name.Contains("gemini", StringComparison.Ordinal) || name.Contains("gemma", StringComparison.Ordinal)
            || p is "google" or "gemini" or "google-vertex" or "vertex" or "google-gla")
        {
            return ModelFamily.Gemini;
        }

        if (TokenizerCache.EncodingForModel(model) is not null || p is "openai" or "azure" or "azure-openai")
        {
            return ModelFamily.OpenAi;
        }

        return ModelFamily.Other;
    }

    /// <summary>Counts (or estimates) the input tokens of a prompt.</summary>
    /// <param name="memo">Shares text counts between calls for the same text (e.g. one prompt counted for several families).</param>
    public PromptTokenCount Count(string? provider, string model, IReadOnlyList<ChatMessage> messages,
        IReadOnlyList<ToolDefinition>? tools = null, TextTokenMemo? memo = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(messages);
        tools ??= [];
        return FamilyOf(provider, model) switch
        {
            ModelFamily.OpenAi => CountOpenAi(model, messages, tools, memo),
            ModelFamily.Anthropic => Estimate(messages, tools, AnthropicFactor, "anthropic", ImageTokens.Anthropic,
                AnthropicToolSystemPromptTokens, memo),
            ModelFamily.Gemini => Estimate(messages, tools, GeminiFactor, "gemini", ImageTokens.Gemini, 0, memo),
            _ => Estimate(messages, tools, AnthropicFactor, "other", ImageTokens.Anthropic, 0, memo),
        };
    }

    /// <summary>Exact tokens of plain text for an OpenAI model (no framing).</summary>
    public static int CountText(string encoding, string text) => TokenizerCache.ForEncoding(encoding).CountTokens(text);

    private static PromptTokenCount CountOpenAi(string model, IReadOnlyList<ChatMessage> messages, IReadOnlyList<ToolDefinition> tools, TextTokenMemo? memo)
    {
        string? known = TokenizerCache.EncodingForModel(model);
        string encoding = known ?? TokenizerCache.O200kBase;
        Tokenizer tokenizer = TokenizerCache.ForEncoding(encoding);
        long tokens = ReplyPriming;
        foreach (ChatMessage message in messages)
        {
            tokens += OpenAiTokensPerMessage + tokenizer.CountTokens(message.Role);
            if (!string.IsNullOrEmpty(message.Content))
            {
                tokens += memo?.Count(encoding, tokenizer, message.Content) ?? tokenizer.CountTokens(message.Content);
            }

            if (!string.IsNullOrEmpty(message.Name))
            {
                tokens += tokenizer.CountTokens(message.Name) + OpenAiTokensPerName;
            }

            foreach (ImageInput image in message.Images)
            {
                tokens += ImageTokens.OpenAi(model, image);
            }
        }

        if (tools.Count > 0)
        {
            tokens += CountOpenAiTools(tokenizer, encoding == TokenizerCache.O200kBase ? 7 : 10, tools);
        }

        // A model name we do not recognise (e.g. an Azure deployment name) is counted with o200k_base, but that
        // is a guess about the tokenizer, so it is not reported as exact.
        return known is null
            ? new PromptTokenCount(tokens, $"estimate:{encoding}(unrecognised model)", Exact: false)
            : new PromptTokenCount(tokens, $"exact:{encoding}", Exact: true);
    }

    private static long CountOpenAiTools(Tokenizer tokenizer, int functionInit, IReadOnlyList<ToolDefinition> tools)
    {
        const int propertyInit = 3, propertyKey = 3, enumInit = -3, enumItem = 3, functionEnd = 12;
        long tokens = 0;
        foreach (ToolDefinition tool in tools)
        {
            tokens += functionInit;
            tokens += tokenizer.CountTokens($"{tool.Name}:{TrimPeriod(tool.Description)}");
            if (tool.Parameters is not { ValueKind: JsonValueKind.Object } schema
                || !schema.TryGetProperty("properties", out JsonElement properties)
                || properties.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            bool first = true;
            foreach (JsonProperty property in properties.EnumerateObject())
            {
                if (first)
                {
                    tokens += propertyInit;
                    first = false;
                }

                tokens += propertyKey;
                string type = "", description = "";
                if (property.Value.ValueKind == JsonValueKind.Object)
                {
                    foreach (JsonProperty part in property.Value.EnumerateObject())
                    {
                        switch (part.Name)
                        {
                            case "type":
                                type = part.Value.ValueKind == JsonValueKind.String ? part.Value.GetString()! : part.Value.GetRawText();
                                break;
                            case "description":
                                description = part.Value.ValueKind == JsonValueKind.String ? part.Value.GetString()! : part.Value.GetRawText();
                                break;
                            case "enum" when part.Value.ValueKind == JsonValueKind.Array:
                                tokens += enumInit;
                                foreach (JsonElement item in part.Value.EnumerateArray())
                                {
                                    tokens += enumItem + tokenizer.CountTokens(
                                        item.ValueKind == JsonValueKind.String ? item.GetString()! : item.GetRawText());
                                }

                                break;
                            default:
                                // items, properties, minimum, ...: not in the cookbook formula; count their text.
                                tokens += tokenizer.CountTokens(part.Value.GetRawText());
                                break;
                        }
                    }
                }

                tokens += tokenizer.CountTokens($"{property.Name}:{type}:{TrimPeriod(description)}");
            }
        }

        return tokens + functionEnd;
    }

    private static PromptTokenCount Estimate(IReadOnlyList<ChatMessage> messages, IReadOnlyList<ToolDefinition> tools,
        decimal factor, string family, Func<ImageInput, long> imageTokens, int toolSystemPrompt, TextTokenMemo? memo)
    {
        Tokenizer tokenizer = TokenizerCache.ForEncoding(TokenizerCache.O200kBase);
        long text = 0, images = 0;
        foreach (ChatMessage message in messages)
        {
            text += tokenizer.CountTokens(message.Role);
            if (!string.IsNullOrEmpty(message.Content))
            {
                text += memo?.Count(TokenizerCache.O200kBase, tokenizer, message.Content) ?? tokenizer.CountTokens(message.Content);
            }

            if (!string.IsNullOrEmpty(message.Name))
            {
                text += tokenizer.CountTokens(message.Name);
            }

            foreach (ImageInput image in message.Images)
            {
                images += imageTokens(image);
            }
        }

        long toolOverhead = 0;
        if (tools.Count > 0)
        {
            toolOverhead = toolSystemPrompt;
            foreach (ToolDefinition tool in tools)
            {
                text += tokenizer.CountTokens(tool.Name);
                if (!string.IsNullOrEmpty(tool.Description))
                {
                    text += tokenizer.CountTokens(tool.Description);
                }

                if (tool.Parameters is { } schema)
                {
                    text += tokenizer.CountTokens(schema.GetRawText());
                }
            }
        }

        long scaled = (long)decimal.Ceiling(text * factor);
        long tokens = scaled + images + toolOverhead + ReplyPriming + ((long)EstimatedTokensPerMessage * messages.Count);
        string factorText = factor.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture);
        return new PromptTokenCount(tokens, $"estimate:{family}-o200k-x{factorText}", Exact: false);
    }

    private static string TrimPeriod(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "";
        }

        return text.EndsWith('.') ? text[..^1] : text;
    }
}

/// <summary>
/// Text token counts per (encoding, text), for one unit of work that counts the same text several times: a model
/// selection counts one prompt for OpenAI (exact) and for the Anthropic and Gemini estimates, which all start from
/// the same o200k_base count. Not thread-safe; use one per unit of work.
/// </summary>
public sealed class TextTokenMemo
{
    private readonly Dictionary<(string Encoding, string Text), int> _counts = [];

    public int Count(string encoding, Tokenizer tokenizer, string text)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (!_counts.TryGetValue((encoding, text), out int count))
        {
            count = tokenizer.CountTokens(text);
            _counts[(encoding, text)] = count;
        }

        return count;
    }
}
