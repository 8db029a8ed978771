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

    public static void WriteUsage(Utf8JsonWriter json, string name, CanonicalUsage usage)
    {
        json.WriteStartObject(name);
        json.WriteNumber(CanonicalUsageParser.InputTokens, usage.InputTokens);
        json.WriteNumber(CanonicalUsageParser.CacheReadTokens, usage.CacheReadTokens);
        json.WriteNumber(CanonicalUsageParser.CacheWriteTokens, usage.CacheWriteTokens);
        json.WriteNumber(CanonicalUsageParser.CacheWrite1hTokens, usage.CacheWrite1hTokens);
        json.WriteNumber(CanonicalUsageParser.InputAudioTokens, usage.InputAudioTokens);
        json.WriteNumber(CanonicalUsageParser.CacheAudioReadTokens, usage.CacheAudioReadTokens);
        json.WriteNumber(CanonicalUsageParser.OutputTokens, usage.OutputTokens);
        json.WriteNumber(CanonicalUsageParser.ReasoningTokens, usage.ReasoningTokens);
        json.WriteNumber(CanonicalUsageParser.OutputAudioTokens, usage.OutputAudioTokens);
        json.WriteNumber(CanonicalUsageParser.WebSearches, usage.WebSearches);
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

    public static string ShapeName(UsageShape shape) => shape switch
    {
        UsageShape.Canonical => "canonical",
        UsageShape.OpenAiChat => "openai-chat",
        UsageShape.OpenAiResponses => "openai-responses",
        UsageShape.Anthropic => "anthropic",
        UsageShape.Gemini => "gemini",
        UsageShape.BedrockConverse => "bedrock-converse",
        _ => shape.ToString(),
    };

    private static void WriteOptional(Utf8JsonWriter json, string name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, value);
        }
    }
}
