using System.Text.Json;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;
using LlmCost.Core;

namespace LlmCost.Cli;

/// <summary>The wire form of quotes and usage: snake_case, money as decimal strings.</summary>
internal static class QuoteJson
{
    // Property names encoded once: most of `llmcost price`'s time is writing these lines.
    private static readonly JsonEncodedText CostUsd = JsonEncodedText.Encode("cost_usd");
    private static readonly JsonEncodedText PricedName = JsonEncodedText.Encode("priced");
    private static readonly JsonEncodedText BreakdownName = JsonEncodedText.Encode("breakdown");
    private static readonly JsonEncodedText ClassName = JsonEncodedText.Encode("class");
    private static readonly JsonEncodedText Quantity = JsonEncodedText.Encode("quantity");
    private static readonly JsonEncodedText UnitPrice = JsonEncodedText.Encode("unit_price_usd");
    private static readonly JsonEncodedText KnownCost = JsonEncodedText.Encode("known_cost_usd");
    private static readonly JsonEncodedText ProviderIdName = JsonEncodedText.Encode("provider_id");
    private static readonly JsonEncodedText ModelIdName = JsonEncodedText.Encode("model_id");
    private static readonly JsonEncodedText ReasonName = JsonEncodedText.Encode("reason");
    private static readonly JsonEncodedText SourceName = JsonEncodedText.Encode("source");
    private static readonly JsonEncodedText PriceVariantName = JsonEncodedText.Encode("price_variant");
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, JsonEncodedText> EncodedValues = new(ReferenceEqualityComparer.Instance);
    private static readonly JsonEncodedText[] UsageNames =
    [
        JsonEncodedText.Encode(CanonicalUsageParser.InputTokens),
        JsonEncodedText.Encode(CanonicalUsageParser.CacheReadTokens),
        JsonEncodedText.Encode(CanonicalUsageParser.CacheWriteTokens),
        JsonEncodedText.Encode(CanonicalUsageParser.CacheWrite1hTokens),
        JsonEncodedText.Encode(CanonicalUsageParser.InputAudioTokens),
        JsonEncodedText.Encode(CanonicalUsageParser.CacheAudioReadTokens),
        JsonEncodedText.Encode(CanonicalUsageParser.OutputTokens),
        JsonEncodedText.Encode(CanonicalUsageParser.ReasoningTokens),
        JsonEncodedText.Encode(CanonicalUsageParser.OutputAudioTokens),
        JsonEncodedText.Encode(CanonicalUsageParser.WebSearches),
    ];

    /// <summary>The unit keys the historic names above stand for (reasoning_tokens is output_reasoning_tokens).</summary>
    private static readonly HashSet<string> HistoricUnitKeys = UsageNames
        .Select(n => n.Value)
        .Select(key => CanonicalUsageParser.Aliases.TryGetValue(key, out string? unitKey) ? unitKey : key)
        .ToHashSet(StringComparer.Ordinal);

    public static void WriteQuote(Utf8JsonWriter json, PriceQuote quote)
    {
        if (quote.Priced)
        {
            MoneyFormat.WriteString(json, CostUsd, quote.CostUsd);
        }
        else
        {
            // Unknown cost is null, never "0": a consumer summing costs must notice.
            json.WriteNull(CostUsd);
        }

        json.WriteBoolean(PricedName, quote.Priced);
        WriteOptional(json, ProviderIdName, quote.ProviderId);
        WriteOptional(json, ModelIdName, quote.ModelId);
        WriteOptional(json, ReasonName, quote.Reason);
        WriteOptional(json, SourceName, quote.Source);
        WriteOptional(json, PriceVariantName, quote.PriceVariant);
        if (quote.UnpricedClasses.Count > 0)
        {
            // Used classes without any price: the known part is a lower bound, never presented as the cost.
            json.WriteStartArray("unpriced_classes");
            foreach (string unpriced in quote.UnpricedClasses)
            {
                json.WriteStringValue(unpriced);
            }

            json.WriteEndArray();
            MoneyFormat.WriteString(json, KnownCost, quote.KnownCostUsd);
        }

        json.WriteStartArray(BreakdownName);
        foreach (PriceComponent component in quote.Breakdown)
        {
            json.WriteStartObject();
            json.WriteString(ClassName, Encoded(component.Class));
            json.WriteNumber(Quantity, component.Quantity);
            MoneyFormat.WriteString(json, UnitPrice, component.UnitPriceUsd);
            MoneyFormat.WriteString(json, CostUsd, component.CostUsd);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    /// <summary>
    /// The usage as canonical keys: the ten historic keys always (0 included, so scripts reading them keep working),
    /// then every other unit with a non-zero count under its usage key (input_image_tokens, audio_seconds, ...).
    /// </summary>
    public static void WriteUsage(Utf8JsonWriter json, string name, CanonicalUsage usage)
    {
        json.WriteStartObject(name);
        json.WriteNumber(UsageNames[0], usage.InputTokens);
        json.WriteNumber(UsageNames[1], usage.CacheReadTokens);
        json.WriteNumber(UsageNames[2], usage.CacheWriteTokens);
        json.WriteNumber(UsageNames[3], usage.CacheWrite1hTokens);
        json.WriteNumber(UsageNames[4], usage.InputAudioTokens);
        json.WriteNumber(UsageNames[5], usage.CacheAudioReadTokens);
        json.WriteNumber(UsageNames[6], usage.OutputTokens);
        json.WriteNumber(UsageNames[7], usage.ReasoningTokens);
        json.WriteNumber(UsageNames[8], usage.OutputAudioTokens);
        json.WriteNumber(UsageNames[9], usage.WebSearches);

        foreach ((UsageUnit unit, long count) in usage.Units)
        {
            if (!HistoricUnitKeys.Contains(unit.UsageKey) && (unit.UsageKey != "requests" || count != 1))
            {
                json.WriteNumber(unit.UsageKey, count);
            }
        }

        json.WriteEndObject();
    }

    public static void WriteErrors(Utf8JsonWriter json, IReadOnlyList<FieldError> errors)
    {
        json.WriteString("error", string.Join("; ", errors.Select(e => e.ToString())));
        json.WriteStartArray("errors");
        foreach (FieldError error in errors)
        {
            json.WriteStartObject();
            json.WriteString("field", error.Field);
            json.WriteString("message", error.Message);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    public static string ShapeName(UsageShape shape) => UsageNormalizer.ShapeId(shape);

    private static void WriteOptional(Utf8JsonWriter json, JsonEncodedText name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, Encoded(value));
        }
    }

    /// <summary>
    /// Catalog strings (provider and model ids, price classes, the source) repeat on every line: encode each distinct
    /// instance once. Keyed by reference, bounded, so a run over many odd strings cannot grow it.
    /// </summary>
    private static JsonEncodedText Encoded(string value)
    {
        if (EncodedValues.TryGetValue(value, out JsonEncodedText encoded))
        {
            return encoded;
        }

        encoded = JsonEncodedText.Encode(value, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping);
        if (EncodedValues.Count < 4096)
        {
            EncodedValues[value] = encoded;
        }

        return encoded;
    }
}
