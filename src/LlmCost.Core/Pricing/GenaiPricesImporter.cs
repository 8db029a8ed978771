using System.Globalization;
using System.Text.Json;

namespace LlmCost.Core.Pricing;

/// <summary>
/// Reads the genai-prices data format (a list of providers, see shared/pricing/README.md) into a
/// <see cref="PriceCatalog"/>. Format errors throw <see cref="CatalogFormatException"/> naming the JSON path;
/// data-quality problems are left to <see cref="CatalogValidator"/>.
/// </summary>
public static class GenaiPricesImporter
{
    public static PriceCatalog Load(Stream json, string source)
    {
        ArgumentNullException.ThrowIfNull(json);
        using JsonDocument document = Parse(json);
        return Load(document.RootElement, source);
    }

    public static PriceCatalog Load(JsonElement root, string source)
    {
        if (root.ValueKind != JsonValueKind.Array)
        {
            throw new CatalogFormatException("$: a genai-prices catalog is a JSON array of providers");
        }

        var providers = new List<CatalogProvider>(root.GetArrayLength());
        int i = 0;
        foreach (JsonElement provider in root.EnumerateArray())
        {
            providers.Add(ReadProvider(provider, $"$[{i}]"));
            i++;
        }

        return new PriceCatalog(providers, source);
    }

    internal static JsonDocument Parse(Stream json)
    {
        try
        {
            return JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new CatalogFormatException($"not valid JSON: {e.Message}");
        }
    }

    private static CatalogProvider ReadProvider(JsonElement element, string path)
    {
        RequireObject(element, path);
        string id = RequiredString(element, "id", path);
        string name = OptionalString(element, "name", path) ?? id;
        JsonElement models = Required(element, "models", path);
        if (models.ValueKind != JsonValueKind.Array)
        {
            throw new CatalogFormatException($"{path}.models: expected an array");
        }

        var list = new List<CatalogModel>(models.GetArrayLength());
        int i = 0;
        foreach (JsonElement model in models.EnumerateArray())
        {
            list.Add(ReadModel(model, $"{path}.models[{i}]"));
            i++;
        }

        return new CatalogProvider(id, name, list)
        {
            ApiPattern = OptionalString(element, "api_pattern", path),
            ProviderMatch = element.TryGetProperty("provider_match", out JsonElement pm) ? MatchRule.Parse(pm, $"{path}.provider_match") : null,
            ModelMatch = element.TryGetProperty("model_match", out JsonElement mm) ? MatchRule.Parse(mm, $"{path}.model_match") : null,
            FallbackModelProviders = StringList(element, "fallback_model_providers", path),
            PricingUrls = StringList(element, "pricing_urls", path),
        };
    }

    private static CatalogModel ReadModel(JsonElement element, string path)
    {
        RequireObject(element, path);
        string id = RequiredString(element, "id", path);
        MatchRule match = MatchRule.Parse(Required(element, "match", path), $"{path}.match");
        JsonElement prices = Required(element, "prices", path);
        var entries = new List<PriceEntry>();
        if (prices.ValueKind == JsonValueKind.Array)
        {
            int i = 0;
            foreach (JsonElement conditional in prices.EnumerateArray())
            {
                string entryPath = $"{path}.prices[{i}]";
                RequireObject(conditional, entryPath);
                PriceConstraint? constraint = conditional.TryGetProperty("constraint", out JsonElement c) && c.ValueKind != JsonValueKind.Null
                    ? ReadConstraint(c, $"{entryPath}.constraint")
                    : null;
                entries.Add(new PriceEntry(constraint, ReadTable(Required(conditional, "prices", entryPath), $"{entryPath}.prices")));
                i++;
            }

            if (entries.Count == 0)
            {
                throw new CatalogFormatException($"{path}.prices: empty list");
            }
        }
        else
        {
            entries.Add(new PriceEntry(null, ReadTable(prices, $"{path}.prices")));
        }

        long? contextWindow = element.TryGetProperty("context_window", out JsonElement cw) && cw.ValueKind == JsonValueKind.Number && cw.TryGetInt64(out long window)
            ? window
            : null;
        return new CatalogModel(id, match, entries)
        {
            Name = OptionalString(element, "name", path),
            Description = OptionalString(element, "description", path),
            ContextWindow = contextWindow,
            Deprecated = element.TryGetProperty("deprecated", out JsonElement d) && d.ValueKind == JsonValueKind.True,
        };
    }

    private static PriceConstraint ReadConstraint(JsonElement element, string path)
    {
        RequireObject(element, path);
        string? type = OptionalString(element, "type", path);
        bool hasDate = element.TryGetProperty("start_date", out _);
        if (type == "start_date" || (type is null && hasDate))
        {
            string date = RequiredString(element, "start_date", path);
            if (!DateTime.TryParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime parsed))
            {
                throw new CatalogFormatException($"{path}.start_date: expected YYYY-MM-DD, got '{date}'");
            }

            return new StartDateConstraint(new DateTimeOffset(parsed, TimeSpan.Zero));
        }

        if (type == "time_of_date" || type is null)
        {
            string start = RequiredString(element, "start_time", path);
            string end = RequiredString(element, "end_time", path);
            if (!TimeOfDayConstraint.IsValid(start) || !TimeOfDayConstraint.IsValid(end))
            {
                throw new CatalogFormatException($"{path}: invalid time-of-day window '{start}'-'{end}'");
            }

            return new TimeOfDayConstraint(start, end);
        }

        throw new CatalogFormatException($"{path}.type: unknown constraint type '{type}'");
    }

    internal static PriceTable ReadTable(JsonElement element, string path)
    {
        RequireObject(element, path);
        var prices = new List<KeyValuePair<string, PriceValue>>();
        foreach (JsonProperty property in element.EnumerateObject())
        {
            if (property.Value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            prices.Add(new(property.Name, ReadPrice(property.Value, $"{path}.{property.Name}")));
        }

        return new PriceTable(prices);
    }

    private static PriceValue ReadPrice(JsonElement element, string path)
    {
        if (element.ValueKind == JsonValueKind.Number)
        {
            return new PriceValue(ReadDecimal(element, path));
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new CatalogFormatException($"{path}: expected a number or {{base, tiers}}");
        }

        decimal @base = ReadDecimal(Required(element, "base", path), $"{path}.base");
        JsonElement tiers = Required(element, "tiers", path);
        if (tiers.ValueKind != JsonValueKind.Array)
        {
            throw new CatalogFormatException($"{path}.tiers: expected an array");
        }

        var list = new List<PriceTier>();
        int i = 0;
        foreach (JsonElement tier in tiers.EnumerateArray())
        {
            string tierPath = $"{path}.tiers[{i}]";
            RequireObject(tier, tierPath);
            JsonElement start = Required(tier, "start", tierPath);
            if (start.ValueKind != JsonValueKind.Number || !start.TryGetInt64(out long startValue) || startValue < 0)
            {
                throw new CatalogFormatException($"{tierPath}.start: expected a non-negative integer");
            }

            list.Add(new PriceTier(startValue, ReadDecimal(Required(tier, "price", tierPath), $"{tierPath}.price")));
            i++;
        }

        return new PriceValue(@base, list);
    }

    internal static decimal ReadDecimal(JsonElement element, string path)
    {
        if (element.ValueKind == JsonValueKind.Number)
        {
            if (element.TryGetDecimal(out decimal value))
            {
                return value;
            }

            // Exponent forms the JSON reader's decimal parser refuses (e.g. 2.5e-06).
            if (decimal.TryParse(element.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture, out value))
            {
                return value;
            }
        }

        throw new CatalogFormatException($"{path}: expected a decimal number, got {element.GetRawText()}");
    }

    private static void RequireObject(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new CatalogFormatException($"{path}: expected an object");
        }
    }

    private static JsonElement Required(JsonElement element, string name, string path) =>
        element.TryGetProperty(name, out JsonElement value)
            ? value
            : throw new CatalogFormatException($"{path}.{name}: required");

    private static string RequiredString(JsonElement element, string name, string path)
    {
        JsonElement value = Required(element, name, path);
        // A blank id names nothing a caller could send (and would show as an empty name in every view).
        return value.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(value.GetString())
            ? value.GetString()!
            : throw new CatalogFormatException($"{path}.{name}: expected a non-blank string");
    }

    private static string? OptionalString(JsonElement element, string name, string path)
    {
        if (!element.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw new CatalogFormatException($"{path}.{name}: expected a string");
    }

    private static IReadOnlyList<string> StringList(JsonElement element, string name, string path)
    {
        if (!element.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw new CatalogFormatException($"{path}.{name}: expected an array of strings");
        }

        return value.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.String
            ? v.GetString()!
            : throw new CatalogFormatException($"{path}.{name}: expected an array of strings")).ToList();
    }
}
