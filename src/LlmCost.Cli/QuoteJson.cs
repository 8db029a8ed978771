using System.Text.Json;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;

namespace LlmCost.Cli;

/// <summary>The wire form of quotes and usage: snake_case, money as decimal strings.</summary>
internal static class QuoteJson
{
    public static void WriteQuote(Utf8JsonWriter json, PriceQuote quote)
    {
        if (quote.Priced)
        {
            json.WriteString("cost_usd", Money.Format(quote.CostUsd));
        }
        else
        {
            // Unknown cost is null, never "0": a consumer summing costs must notice.
            json.WriteNull("cost_usd");
        }

        json.WriteBoolean("priced", quote.Priced);
        WriteOptional(json, "provider_id", quote.ProviderId);
        WriteOptional(json, "model_id", quote.ModelId);
        WriteOptional(json, "reason", quote.Reason);
        WriteOptional(json, "source", quote.Source);
        WriteOptional(json, "price_variant", quote.PriceVariant);
        if (quote.UnpricedClasses.Count > 0)
        {
            // Used classes without any price: the known part is a lower bound, never presented as the cost.
            json.WriteStartArray("unpriced_classes");
            foreach (string unpriced in quote.UnpricedClasses)
            {
                json.WriteStringValue(unpriced);
            }

            json.WriteEndArray();
            json.WriteString("known_cost_usd", Money.Format(quote.KnownCostUsd));
        }

        json.WriteStartArray("breakdown");
        foreach (PriceComponent component in quote.Breakdown)
        {
            json.WriteStartObject();
            json.WriteString("class", component.Class);
            json.WriteNumber("quantity", component.Quantity);
            json.WriteString("unit_price_usd", Money.Format(component.UnitPriceUsd));
            json.WriteString("cost_usd", Money.Format(component.CostUsd));
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
        var written = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string key, long value) in (ReadOnlySpan<(string, long)>)
                 [
                     (CanonicalUsageParser.InputTokens, usage.InputTokens), (CanonicalUsageParser.CacheReadTokens, usage.CacheReadTokens),
                     (CanonicalUsageParser.CacheWriteTokens, usage.CacheWriteTokens), (CanonicalUsageParser.CacheWrite1hTokens, usage.CacheWrite1hTokens),
                     (CanonicalUsageParser.InputAudioTokens, usage.InputAudioTokens), (CanonicalUsageParser.CacheAudioReadTokens, usage.CacheAudioReadTokens),
                     (CanonicalUsageParser.OutputTokens, usage.OutputTokens), (CanonicalUsageParser.ReasoningTokens, usage.ReasoningTokens),
                     (CanonicalUsageParser.OutputAudioTokens, usage.OutputAudioTokens), (CanonicalUsageParser.WebSearches, usage.WebSearches),
                 ])
        {
            json.WriteNumber(key, value);
            written.Add(CanonicalUsageParser.Aliases.TryGetValue(key, out string? unitKey) ? unitKey : key);
        }

        foreach ((UsageUnit unit, long count) in usage.Units)
        {
            if (!written.Contains(unit.UsageKey) && (unit.UsageKey != "requests" || count != 1))
            {
                json.WriteNumber(unit.UsageKey, count);
            }
        }

        json.WriteEndObject();
    }

    public static void WriteErrors(Utf8JsonWriter json, IReadOnlyList<UsageError> errors)
    {
        json.WriteString("error", string.Join("; ", errors.Select(e => e.ToString())));
        json.WriteStartArray("errors");
        foreach (UsageError error in errors)
        {
            json.WriteStartObject();
            json.WriteString("field", error.Field);
            json.WriteString("message", error.Message);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    public static string ShapeName(UsageShape shape) => UsageNormalizer.ShapeId(shape);

    private static void WriteOptional(Utf8JsonWriter json, string name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, value);
        }
    }
}
