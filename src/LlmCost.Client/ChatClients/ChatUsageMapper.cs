using System.ClientModel.Primitives;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace LlmCost.Client;

/// <summary>
/// Turns what a chat client reports into what the service records: the abstraction's <see cref="UsageDetails"/> into
/// canonical usage, and a response's <c>RawRepresentation</c> into the provider's own usage object.
/// </summary>
/// <remarks>
/// Microsoft.Extensions.AI defines its counts inclusively, as the service does: cached input tokens are part of
/// <see cref="UsageDetails.InputTokenCount"/>, reasoning and audio output part of
/// <see cref="UsageDetails.OutputTokenCount"/>. An adapter that reports them exclusively shows itself by a part larger
/// than its whole; then the part is added to the whole instead of recording an impossible (and refused) event.
/// <see cref="UsageDetails.AdditionalCounts"/> entries named like a canonical key (<c>cache_write_tokens</c>,
/// <c>web_searches</c>, any case, '.' or '_') are taken as that key, and the OpenAI adapter's
/// <c>InputTokenDetails.*</c> / <c>OutputTokenDetails.*</c> names fill what the typed properties left empty.
/// The raw usage is preferred when present: the service's normaliser knows each provider's convention (Anthropic's
/// input excludes cache reads and writes, Gemini's output excludes thoughts, ...).
/// </remarks>
internal static class ChatUsageMapper
{
    private static readonly Dictionary<string, string> AdditionalCountAliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["InputTokenDetails.CachedTokenCount"] = UsageKeys.CacheReadTokens,
        ["InputTokenDetails.AudioTokenCount"] = UsageKeys.InputAudioTokens,
        ["OutputTokenDetails.ReasoningTokenCount"] = UsageKeys.ReasoningTokens,
        ["OutputTokenDetails.AudioTokenCount"] = UsageKeys.OutputAudioTokens,
    };

    private static readonly HashSet<string> CanonicalKeys = new(StringComparer.Ordinal)
    {
        UsageKeys.InputTokens, UsageKeys.CacheReadTokens, UsageKeys.CacheWriteTokens, UsageKeys.CacheWrite1hTokens,
        UsageKeys.InputAudioTokens, UsageKeys.CacheAudioReadTokens, UsageKeys.OutputTokens, UsageKeys.ReasoningTokens,
        UsageKeys.OutputAudioTokens, UsageKeys.WebSearches,
    };

    private static readonly Dictionary<string, string> ProviderNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["openai"] = "openai",
        ["anthropic"] = "anthropic",
        ["google"] = "google",
        ["gemini"] = "google",
        ["gcp.gemini"] = "google",
        ["azure.ai.openai"] = "azure",
        ["azure_openai"] = "azure",
        ["azure"] = "azure",
        ["aws.bedrock"] = "aws",
        ["bedrock"] = "aws",
        ["mistral"] = "mistral",
        ["mistral_ai"] = "mistral",
        ["groq"] = "groq",
        ["deepseek"] = "deepseek",
        ["xai"] = "x-ai",
        ["x-ai"] = "x-ai",
    };

    /// <summary>The service's provider id for a <see cref="ChatClientMetadata.ProviderName"/>, or null to let it infer.</summary>
    public static string? Provider(string? providerName) =>
        providerName is not null && ProviderNames.TryGetValue(providerName, out string? id) ? id : null;

    /// <summary>Canonical usage from the abstraction's counts; null when it reports no token counts at all.</summary>
    public static Dictionary<string, long>? Canonical(UsageDetails? details)
    {
        if (details is null)
        {
            return null;
        }

        var usage = new Dictionary<string, long>(StringComparer.Ordinal);
        Put(usage, UsageKeys.InputTokens, details.InputTokenCount);
        Put(usage, UsageKeys.CacheReadTokens, details.CachedInputTokenCount);
#pragma warning disable MEAI001 // the audio counts are marked experimental; read them while they exist, they price differently
        Put(usage, UsageKeys.InputAudioTokens, details.InputAudioTokenCount);
        Put(usage, UsageKeys.OutputTokens, details.OutputTokenCount);
        Put(usage, UsageKeys.ReasoningTokens, details.ReasoningTokenCount);
        Put(usage, UsageKeys.OutputAudioTokens, details.OutputAudioTokenCount);
#pragma warning restore MEAI001
        foreach ((string name, long value) in details.AdditionalCounts ?? [])
        {
            string? key = AdditionalCountAliases.TryGetValue(name, out string? alias)
                ? alias
                : name.Replace('.', '_').ToLowerInvariant() is { } normal && CanonicalKeys.Contains(normal) ? normal : null;
            if (key is not null && value >= 0)
            {
                usage.TryAdd(key, value);
            }
        }

        if (!usage.ContainsKey(UsageKeys.InputTokens) && !usage.ContainsKey(UsageKeys.OutputTokens))
        {
            return null;
        }

        // Parts larger than their whole mean the adapter counted them outside it: fold them in.
        long input = usage.GetValueOrDefault(UsageKeys.InputTokens);
        long inputParts = usage.GetValueOrDefault(UsageKeys.CacheReadTokens) + usage.GetValueOrDefault(UsageKeys.CacheWriteTokens);
        if (inputParts > input)
        {
            usage[UsageKeys.InputTokens] = input + inputParts;
        }

        long audioIn = usage.GetValueOrDefault(UsageKeys.InputAudioTokens);
        if (audioIn > usage.GetValueOrDefault(UsageKeys.InputTokens))
        {
            usage[UsageKeys.InputTokens] = usage.GetValueOrDefault(UsageKeys.InputTokens) + audioIn;
        }

        long output = usage.GetValueOrDefault(UsageKeys.OutputTokens);
        long outputParts = usage.GetValueOrDefault(UsageKeys.ReasoningTokens) + usage.GetValueOrDefault(UsageKeys.OutputAudioTokens);
        if (outputParts > output)
        {
            usage[UsageKeys.OutputTokens] = output + outputParts;
        }

        if (usage.GetValueOrDefault(UsageKeys.CacheWrite1hTokens) > usage.GetValueOrDefault(UsageKeys.CacheWriteTokens))
        {
            usage[UsageKeys.CacheWriteTokens] = usage[UsageKeys.CacheWrite1hTokens];
        }

        return usage;
    }

    /// <summary>
    /// The provider's usage object from a raw representation: JSON values (the usage object itself, or a body holding
    /// it under <c>usage</c>/<c>usageMetadata</c>, or an Anthropic stream event holding <c>message.usage</c>), and
    /// System.ClientModel models such as the OpenAI SDK's <c>ChatCompletion</c>, written to JSON first. Only the usage
    /// object is returned: the response text never leaves the app.
    /// </summary>
    public static JsonElement? RawUsage(object? raw, Func<object, JsonElement?>? custom)
    {
        if (raw is null)
        {
            return null;
        }

        try
        {
            if (custom?.Invoke(raw) is { } supplied)
            {
                return UsageOf(supplied);
            }

            return raw switch
            {
                JsonElement element => UsageOf(element),
                JsonDocument document => UsageOf(document.RootElement),
                JsonNode node => UsageOf(JsonSerializer.SerializeToElement(node)),
                string text when text.TrimStart().StartsWith('{') => UsageOf(JsonDocument.Parse(text).RootElement),
                BinaryData data => UsageOf(JsonDocument.Parse(data).RootElement),
                IPersistableModel<object> model => UsageOf(JsonDocument.Parse(model.Write(ModelReaderWriterOptions.Json)).RootElement),
                _ => null,
            };
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException or NotSupportedException)
        {
            // A representation we cannot read costs us the raw form only; the abstraction's counts still go.
            return null;
        }
    }

    private static JsonElement? UsageOf(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        if (element.TryGetProperty("usage", out JsonElement usage) && usage.ValueKind == JsonValueKind.Object)
        {
            return usage.Clone();
        }

        if (element.TryGetProperty("usageMetadata", out JsonElement gemini) && gemini.ValueKind == JsonValueKind.Object)
        {
            return gemini.Clone();
        }

        if (element.TryGetProperty("message", out JsonElement message) && message.ValueKind == JsonValueKind.Object
            && message.TryGetProperty("usage", out JsonElement nested) && nested.ValueKind == JsonValueKind.Object)
        {
            return nested.Clone();
        }

        return LooksLikeUsage(element) ? element.Clone() : null;
    }

    private static bool LooksLikeUsage(JsonElement element) =>
        element.TryGetProperty("prompt_tokens", out _) || element.TryGetProperty("completion_tokens", out _)
        || element.TryGetProperty("input_tokens", out _) || element.TryGetProperty("output_tokens", out _)
        || element.TryGetProperty("promptTokenCount", out _) || element.TryGetProperty("inputTokens", out _);

    private static void Put(Dictionary<string, long> usage, string key, long? value)
    {
        if (value is { } v && v >= 0)
        {
            usage[key] = v;
        }
    }
}
