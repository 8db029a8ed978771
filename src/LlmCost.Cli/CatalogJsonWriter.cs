using System.Globalization;
using System.Text.Json;
using LlmCost.Core.Pricing;
using LlmCost.Core;

namespace LlmCost.Cli;

/// <summary>
/// Writes a <see cref="PriceCatalog"/> in the genai-prices data format (the format the service and
/// <c>--catalog</c> load), and the prices of a catalog as a <see cref="PricingPolicy"/> of custom prices.
/// </summary>
internal static class CatalogJsonWriter
{
    public static void WriteGenaiPrices(Utf8JsonWriter json, PriceCatalog catalog)
    {
        json.WriteStartArray();
        foreach (CatalogProvider provider in catalog.Providers)
        {
            json.WriteStartObject();
            json.WriteString("id", provider.Id);
            json.WriteString("name", provider.Name);
            json.WriteString("api_pattern", provider.ApiPattern ?? "");
            if (provider.ProviderMatch is { } providerMatch)
            {
                json.WritePropertyName("provider_match");
                json.WriteRawValue(providerMatch.ToString());
            }

            if (provider.ModelMatch is { } modelMatch)
            {
                json.WritePropertyName("model_match");
                json.WriteRawValue(modelMatch.ToString());
            }

            if (provider.FallbackModelProviders.Count > 0)
            {
                json.WriteStartArray("fallback_model_providers");
                foreach (string fallback in provider.FallbackModelProviders)
                {
                    json.WriteStringValue(fallback);
                }

                json.WriteEndArray();
            }

            json.WriteStartArray("models");
            foreach (CatalogModel model in provider.Models)
            {
                WriteModel(json, model);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private static void WriteModel(Utf8JsonWriter json, CatalogModel model)
    {
        json.WriteStartObject();
        json.WriteString("id", model.Id);
        if (model.Name is { } name)
        {
            json.WriteString("name", name);
        }

        if (model.Description is { } description)
        {
            json.WriteString("description", description);
        }

        json.WritePropertyName("match");
        json.WriteRawValue(model.Match.ToString());
        if (model.ContextWindow is { } window)
        {
            json.WriteNumber("context_window", window);
        }

        if (model.Deprecated)
        {
            json.WriteBoolean("deprecated", true);
        }

        if (model.Prices.Count == 1 && model.Prices[0].Constraint is null)
        {
            json.WritePropertyName("prices");
            WriteTable(json, model.Prices[0].Table);
        }
        else
        {
            json.WriteStartArray("prices");
            foreach (PriceEntry entry in model.Prices)
            {
                json.WriteStartObject();
                switch (entry.Constraint)
                {
                    case StartDateConstraint date:
                        json.WriteStartObject("constraint");
                        json.WriteString("type", "start_date");
                        json.WriteString("start_date", date.StartDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
                        json.WriteEndObject();
                        break;
                    case TimeOfDayConstraint time:
                        json.WriteStartObject("constraint");
                        json.WriteString("type", "time_of_date");
                        json.WriteString("start_time", time.StartTime);
                        json.WriteString("end_time", time.EndTime);
                        json.WriteEndObject();
                        break;
                }

                json.WritePropertyName("prices");
                WriteTable(json, entry.Table);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        json.WriteEndObject();
    }

    /// <summary>
    /// A price table as an object of flat or tiered (<c>{"base", "tiers": [{"start", "price"}]}</c>) prices: amounts
    /// are JSON numbers in a catalog file, decimal strings (<paramref name="moneyAsString"/>) in what
    /// <c>llmcost catalog</c> shows.
    /// </summary>
    public static void WriteTable(Utf8JsonWriter json, PriceTable table, bool moneyAsString = false)
    {
        json.WriteStartObject();
        foreach ((string key, PriceValue value) in table.Prices)
        {
            json.WritePropertyName(key);
            WriteValue(json, value, moneyAsString);
        }

        json.WriteEndObject();
    }

    private static void WriteValue(Utf8JsonWriter json, PriceValue value, bool moneyAsString)
    {
        if (!value.IsTiered)
        {
            WriteMoney(json, value.Base, moneyAsString);
            return;
        }

        json.WriteStartObject();
        json.WritePropertyName("base");
        WriteMoney(json, value.Base, moneyAsString);
        json.WriteStartArray("tiers");
        foreach (PriceTier tier in value.Tiers)
        {
            json.WriteStartObject();
            json.WriteNumber("start", tier.Start);
            json.WritePropertyName("price");
            WriteMoney(json, tier.Price, moneyAsString);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteMoney(Utf8JsonWriter json, decimal amount, bool asString)
    {
        if (asString)
        {
            json.WriteStringValue(MoneyFormat.Format(amount));
        }
        else
        {
            json.WriteNumberValue(MoneyFormat.Normalize(amount));
        }
    }

    /// <summary>
    /// The catalog's prices in force at <paramref name="at"/> as custom prices of a pricing policy: one rule per
    /// model (its id as the exact model name, its provider), under <c>models</c> or under one tenant. Match rules
    /// and historic price tables do not carry over (a policy rule has one price table): the output says so.
    /// </summary>
    public static void WritePolicy(Utf8JsonWriter json, PriceCatalog catalog, DateTimeOffset at, string? tenant)
    {
        json.WriteStartObject();
        if (tenant is not null)
        {
            json.WriteStartObject("tenants");
            json.WriteStartObject(tenant);
        }

        json.WriteStartArray("models");
        foreach (CatalogModelPrice model in catalog.ListModels(at))
        {
            json.WriteStartObject();
            json.WriteString("model", model.ModelId);
            json.WriteString("provider", model.ProviderId);
            json.WritePropertyName("prices");
            WriteTable(json, model.Table);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        if (tenant is not null)
        {
            json.WriteEndObject();
            json.WriteEndObject();
        }

        json.WriteEndObject();
    }
}
