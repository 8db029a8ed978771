using System.Text.Json;
using System.Text.RegularExpressions;

namespace LlmCost.Core.Pricing;

/// <summary>
/// Reads LiteLLM's `model_prices_and_context_window.json` format (an object of model name → entry, prices in
/// USD per token) into a <see cref="PriceCatalog"/> with genai-prices price keys (USD per million).
/// </summary>
/// <remarks>
/// Mapping: input_cost_per_token → input_mtok, output_cost_per_token → output_mtok,
/// cache_read_input_token_cost → cache_read_mtok, cache_creation_input_token_cost → cache_write_mtok,
/// cache_creation_input_token_cost_above_1hr → cache_write_1h_mtok, input/output_cost_per_audio_token →
/// input/output_audio_mtok, cache_read_input_audio_token_cost → cache_audio_read_mtok,
/// output_cost_per_reasoning_token → output_reasoning_mtok; any of them suffixed `_above_{N}k_tokens` becomes a
/// tier starting at N×1000 input tokens. Batch/priority/flex prices and other price fields are not modelled:
/// they are reported as <see cref="IssueSeverity.Info"/> issues, never silently mixed in. Providers are mapped
/// to genai-prices ids where one exists (vertex_ai-* and gemini → google, bedrock → aws, xai → x-ai, ...),
/// keeping the LiteLLM name as a provider alias.
/// </remarks>
public static class LiteLlmImporter
{
    private const decimal PerMillion = 1_000_000m;

    private static readonly Dictionary<string, string> s_keys = new(StringComparer.Ordinal)
    {
        ["input_cost_per_token"] = "input_mtok",
        ["output_cost_per_token"] = "output_mtok",
        ["cache_read_input_token_cost"] = "cache_read_mtok",
        ["cache_creation_input_token_cost"] = "cache_write_mtok",
        ["cache_creation_input_token_cost_above_1hr"] = "cache_write_1h_mtok",
        ["input_cost_per_audio_token"] = "input_audio_mtok",
        ["cache_read_input_audio_token_cost"] = "cache_audio_read_mtok",
        ["output_cost_per_audio_token"] = "output_audio_mtok",
        ["output_cost_per_reasoning_token"] = "output_reasoning_mtok",
    };

    private static readonly Regex s_tier = new(@"^(?<key>.+)_above_(?<k>\d+)k_tokens$", RegexOptions.CultureInvariant);

    private static readonly Dictionary<string, string> s_providers = new(StringComparer.OrdinalIgnoreCase)
    {
        ["openai"] = "openai",
        ["text-completion-openai"] = "openai",
        ["azure"] = "azure",
        ["azure_ai"] = "azure",
        ["anthropic"] = "anthropic",
        ["gemini"] = "google",
        ["vertex_ai"] = "google",
        ["bedrock"] = "aws",
        ["bedrock_converse"] = "aws",
        ["xai"] = "x-ai",
        ["mistral"] = "mistral",
        ["deepseek"] = "deepseek",
        ["groq"] = "groq",
        ["cohere"] = "cohere",
        ["cohere_chat"] = "cohere",
        ["together_ai"] = "together",
        ["fireworks_ai"] = "fireworks",
        ["perplexity"] = "perplexity",
        ["openrouter"] = "openrouter",
        ["cerebras"] = "cerebras",
        ["moonshot"] = "moonshotai",
    };

    /// <param name="issues">Receives what was ignored or could not be read (entries that cannot be read are skipped).</param>
    public static PriceCatalog Load(JsonElement root, string source, List<CatalogIssue> issues)
    {
        ArgumentNullException.ThrowIfNull(issues);
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new CatalogFormatException("$: a LiteLLM price file is a JSON object of model name → entry");
        }

        var providers = new Dictionary<string, (List<CatalogModel> Models, SortedSet<string> Aliases)>(StringComparer.Ordinal);
        foreach (JsonProperty entry in root.EnumerateObject())
        {
            // LiteLLM's own file documents its fields in a "sample_spec" entry.
            if (entry.Name == "sample_spec")
            {
                continue;
            }

            if (entry.Value.ValueKind != JsonValueKind.Object)
            {
                issues.Add(new(IssueSeverity.Error, "?", entry.Name, "unreadable-entry", "entry is not an object: skipped"));
                continue;
            }

            // A model no caller can name: an empty or blank name (or one with spaces around it) would never match.
            if (string.IsNullOrWhiteSpace(entry.Name) || entry.Name.Trim().Length != entry.Name.Length)
            {
                issues.Add(new(IssueSeverity.Error, "?", entry.Name, "unreadable-entry", "the model name is empty or has spaces around it: skipped"));
                continue;
            }

            // An empty or blank provider is as good as none (it would make an empty provider id).
            string litellmProvider = entry.Value.TryGetProperty("litellm_provider", out JsonElement p) && p.ValueKind == JsonValueKind.String
                && !string.IsNullOrWhiteSpace(p.GetString())
                ? p.GetString()!.Trim()
                : "unknown";
            string providerId = MapProvider(litellmProvider);
            CatalogModel? model = ReadModel(entry.Name, entry.Value, litellmProvider, providerId, issues);
            if (model is null)
            {
                continue;
            }

            if (!providers.TryGetValue(providerId, out var provider))
            {
                provider = ([], new SortedSet<string>(StringComparer.Ordinal));
                providers[providerId] = provider;
            }

            provider.Models.Add(model);
            if (!string.Equals(litellmProvider, providerId, StringComparison.OrdinalIgnoreCase))
            {
                provider.Aliases.Add(litellmProvider.ToLowerInvariant());
            }
        }

        List<CatalogProvider> list = providers
            .Select(p => new CatalogProvider(p.Key, p.Key, p.Value.Models)
            {
                ProviderMatch = p.Value.Aliases.Count == 0 ? null : AnyOf(p.Value.Aliases),
            })
            .ToList();
        return new PriceCatalog(list, source);
    }

    private static CatalogModel? ReadModel(string name, JsonElement entry, string litellmProvider, string providerId, List<CatalogIssue> issues)
    {
        var flat = new Dictionary<string, decimal>(StringComparer.Ordinal);
        var tiers = new Dictionary<string, List<PriceTier>>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (JsonProperty field in entry.EnumerateObject())
        {
            if (!IsPriceField(field.Name))
            {
                continue;
            }

            Match tier = s_tier.Match(field.Name);
            bool modelled = s_keys.ContainsKey(field.Name) || (tier.Success && s_keys.ContainsKey(tier.Groups["key"].Value));
            if (field.Value.ValueKind != JsonValueKind.Number)
            {
                // null is LiteLLM's "no price" (real entries carry it); a price we model typed as text, a boolean or
                // an object would otherwise vanish and leave the model cheaper than it is.
                if (modelled && field.Value.ValueKind != JsonValueKind.Null)
                {
                    issues.Add(new(IssueSeverity.Error, providerId, name, "unreadable-price", $"{field.Name}: expected a number, got {field.Value.ValueKind}"));
                }

                continue;
            }

            decimal perMillion;
            try
            {
                perMillion = checked(GenaiPricesImporter.ReadDecimal(field.Value, field.Name) * PerMillion);
            }
            catch (CatalogFormatException e)
            {
                issues.Add(new(IssueSeverity.Error, providerId, name, "unreadable-price", e.Message));
                continue;
            }
            catch (OverflowException)
            {
                issues.Add(new(IssueSeverity.Error, providerId, name, "unreadable-price", $"{field.Name}: {field.Value.GetRawText()} per token is beyond any price"));
                continue;
            }

            if (s_keys.TryGetValue(field.Name, out string? key))
            {
                if (flat.ContainsKey(key))
                {
                    issues.Add(new(IssueSeverity.Error, providerId, name, "duplicate-price", $"{field.Name} appears more than once: only the first is kept"));
                    continue;
                }

                flat[key] = perMillion;
                if (!order.Contains(key))
                {
                    order.Add(key);
                }

                continue;
            }

            if (tier.Success && s_keys.TryGetValue(tier.Groups["key"].Value, out string? tierKey))
            {
                // N thousand tokens: a start that does not fit a token count is unreadable, never wrapped around.
                if (!long.TryParse(tier.Groups["k"].Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long thousands)
                    || thousands > long.MaxValue / 1_000)
                {
                    issues.Add(new(IssueSeverity.Error, providerId, name, "unreadable-price", $"{field.Name}: the tier's start is beyond any token count: tier ignored"));
                    continue;
                }

                if (!tiers.TryGetValue(tierKey, out List<PriceTier>? list))
                {
                    list = [];
                    tiers[tierKey] = list;
                }

                long start = thousands * 1_000;
                if (list.Any(t => t.Start == start))
                {
                    issues.Add(new(IssueSeverity.Error, providerId, name, "duplicate-price", $"{field.Name} appears more than once: only the first is kept"));
                    continue;
                }

                list.Add(new PriceTier(start, perMillion));
                continue;
            }

            issues.Add(new(IssueSeverity.Info, providerId, name, "ignored-field",
                $"'{field.Name}' is not modelled (batch, priority, flex, per-image/second/character prices are not supported): ignored"));
        }

        var prices = new List<KeyValuePair<string, PriceValue>>();
        foreach (string key in order)
        {
            prices.Add(new(key, new PriceValue(flat[key], tiers.GetValueOrDefault(key))));
        }

        foreach ((string key, List<PriceTier> list) in tiers)
        {
            if (!flat.ContainsKey(key))
            {
                issues.Add(new(IssueSeverity.Error, providerId, name, "tier-without-base", $"a tiered price for {key} without its base price: tier ignored"));
            }
        }

        MatchRule match = MatchRule.Equal(name);
        string prefix = litellmProvider + "/";
        if (name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && name.Length > prefix.Length)
        {
            // Callers send "gpt-4o" with provider "azure" as often as "azure/gpt-4o".
            match = AnyOf([name.ToLowerInvariant(), name[prefix.Length..].ToLowerInvariant()]);
        }

        long? contextWindow = entry.TryGetProperty("max_input_tokens", out JsonElement max) && max.ValueKind == JsonValueKind.Number && max.TryGetInt64(out long m)
            ? m
            : null;
        string? mode = entry.TryGetProperty("mode", out JsonElement modeElement) && modeElement.ValueKind == JsonValueKind.String ? modeElement.GetString() : null;
        return new CatalogModel(name, match, [new PriceEntry(null, new PriceTable(prices))])
        {
            Name = name,
            ContextWindow = contextWindow,
            Mode = mode,
        };
    }

    private static bool IsPriceField(string name) =>
        name.Contains("cost", StringComparison.Ordinal) || name.Contains("price", StringComparison.Ordinal);

    private static string MapProvider(string litellmProvider)
    {
        if (s_providers.TryGetValue(litellmProvider, out string? mapped))
        {
            return mapped;
        }

        // vertex_ai-language-models, vertex_ai-anthropic_models, ...: Google's Vertex AI.
        return litellmProvider.StartsWith("vertex_ai", StringComparison.OrdinalIgnoreCase)
            ? "google"
            : litellmProvider.ToLowerInvariant();
    }

    private static MatchRule AnyOf(IEnumerable<string> names)
    {
        string json = JsonSerializer.Serialize(new Dictionary<string, object> { ["or"] = names.Select(n => new Dictionary<string, string> { ["equals"] = n }).ToArray() });
        using JsonDocument document = JsonDocument.Parse(json);
        return MatchRule.Parse(document.RootElement, "$");
    }
}
