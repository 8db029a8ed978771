using System.Globalization;

namespace LlmCost.Core.Pricing;

public enum IssueSeverity
{
    /// <summary>Worth knowing (a field ignored); the entry prices fine.</summary>
    Info,

    /// <summary>Suspicious; loaded, but check the source.</summary>
    Warning,

    /// <summary>Almost certainly wrong; a loader leaves the entry out unless told to include suspicious entries.</summary>
    Error,
}

/// <summary>A data-quality finding about one catalog entry.</summary>
/// <param name="Code">Stable machine-readable code, e.g. "per-million-as-per-token".</param>
public sealed record CatalogIssue(IssueSeverity Severity, string ProviderId, string? ModelId, string Code, string Message)
{
    public override string ToString() => $"{Severity.ToString().ToLowerInvariant()} {ProviderId}/{ModelId} [{Code}]: {Message}";
}

/// <summary>
/// Reports suspicious catalog entries instead of letting garbage price calls silently: negative prices, a
/// per-million price typed where a per-token one belongs (or the reverse), cache reads dearer than input, a
/// cache-write key holding what is evidently a cache-read price, a chat model marked as an embedding model,
/// price tables genai-prices could not price with, duplicate ids, keys nothing prices.
/// </summary>
public static class CatalogValidator
{
    /// <summary>Above this (USD per million tokens), a price is taken for a per-million price typed as per-token (×1e6). The dearest real price in genai-prices 0.1.8 is 600.</summary>
    public const decimal MaxPlausibleMtokPrice = 1_000m;

    /// <summary>
    /// Above this (USD per price unit: a million tokens, a thousand requests or pages, an hour), no real price is
    /// (the dearest in genai-prices 0.1.8 is 600 per million output tokens, 14 per thousand requests). It also
    /// keeps the cost of the largest valid usage within a decimal.
    /// </summary>
    public const decimal MaxPlausiblePrice = 100_000m;

    /// <summary>Below this positive value, a per-million price looks like a per-token price. The cheapest real one in genai-prices 0.1.8 is 0.002.</summary>
    public const decimal MinPlausibleMtokPrice = 0.0001m;

    private static readonly char[] s_nameSeparators = ['-', '_', '/', '.', ':', '@', ' '];

    private static readonly HashSet<string> s_chatTokens = new(StringComparer.Ordinal)
    {
        "chat", "instruct", "gpt", "claude", "sonnet", "opus", "haiku", "turbo", "flash", "llama", "mixtral", "reasoner", "coder",
    };

    public static IReadOnlyList<CatalogIssue> Validate(PriceCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var issues = new List<CatalogIssue>();
        var providerIds = new HashSet<string>(StringComparer.Ordinal);
        foreach (CatalogProvider provider in catalog.Providers)
        {
            if (!providerIds.Add(provider.Id))
            {
                issues.Add(new(IssueSeverity.Warning, provider.Id, null, "duplicate-provider", "provider id appears more than once: only the first is reachable by id"));
            }

            foreach (string fallback in provider.FallbackModelProviders)
            {
                if (catalog.FindProvider(fallback) is null)
                {
                    issues.Add(new(IssueSeverity.Warning, provider.Id, null, "unknown-fallback-provider", $"fallback provider '{fallback}' is not in the catalog"));
                }
            }

            var modelIds = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (CatalogModel model in provider.Models)
            {
                if (!modelIds.Add(model.Id))
                {
                    issues.Add(new(IssueSeverity.Warning, provider.Id, model.Id, "duplicate-model", "model id appears more than once in this provider"));
                }

                ValidateModel(provider, model, issues);
            }
        }

        return issues;
    }

    /// <summary>The issues of one model (all its price tables).</summary>
    public static IReadOnlyList<CatalogIssue> Validate(CatalogProvider provider, CatalogModel model)
    {
        var issues = new List<CatalogIssue>();
        ValidateModel(provider, model, issues);
        return issues;
    }

    private static void ValidateModel(CatalogProvider provider, CatalogModel model, List<CatalogIssue> issues)
    {
        void Add(IssueSeverity severity, string code, string message) => issues.Add(new(severity, provider.Id, model.Id, code, message));

        foreach (PriceEntry entry in model.Prices)
        {
            string where = entry.Constraint is null ? "" : $" ({entry.Constraint})";
            PriceTable table = entry.Table;
            if (table.Prices.Count == 0)
            {
                Add(IssueSeverity.Warning, "empty-prices", $"no supported price{where}: every call to it would be unpriced");
            }

            foreach (string key in table.UnsupportedPriceKeys)
            {
                Add(IssueSeverity.Info, "unsupported-price-key", $"price key '{key}'{where} is not a genai-prices unit and is ignored");
            }

            if (table.Inconsistency is not null)
            {
                Add(IssueSeverity.Error, "inconsistent-table", $"{table.Inconsistency}{where}: calls cannot be priced unambiguously");
            }

            foreach ((string key, PriceValue value) in table.Prices)
            {
                foreach (decimal price in AllPrices(value))
                {
                    if (price < 0)
                    {
                        Add(IssueSeverity.Error, "negative-price", $"{key} = {Format(price)}{where} is negative");
                    }
                    else if (key.EndsWith("_mtok", StringComparison.Ordinal) && price > MaxPlausibleMtokPrice)
                    {
                        Add(IssueSeverity.Error, "per-million-as-per-token",
                            $"{key} = {Format(price)} USD per million tokens{where} ({Format(price / 1_000_000m)} USD per token): a per-million price typed where a per-token price belongs?");
                    }
                    else if (price > MaxPlausiblePrice)
                    {
                        Add(IssueSeverity.Error, "implausible-price", $"{key} = {Format(price)}{where} is above any real price (at most {Format(MaxPlausiblePrice)} per unit)");
                    }
                    else if (key.EndsWith("_mtok", StringComparison.Ordinal) && price > 0 && price < MinPlausibleMtokPrice)
                    {
                        Add(IssueSeverity.Warning, "per-token-as-per-million",
                            $"{key} = {Format(price)} USD per million tokens{where}: a per-token price typed where a per-million price belongs?");
                    }
                }
            }

            bool hasInput = table.TryGetPrice("input_mtok", out PriceValue input);
            bool hasRead = table.TryGetPrice("cache_read_mtok", out PriceValue read);
            bool hasWrite = table.TryGetPrice("cache_write_mtok", out PriceValue write);
            if (hasInput && hasRead && read.Base > input.Base)
            {
                Add(IssueSeverity.Error, "cache-read-above-input",
                    $"cache_read_mtok {Format(read.Base)} is above input_mtok {Format(input.Base)}{where}: cached tokens are never dearer than uncached ones");
            }

            if (hasInput && hasWrite && !hasRead && write.Base < input.Base)
            {
                Add(IssueSeverity.Warning, "cache-write-as-cache-read",
                    $"cache_write_mtok {Format(write.Base)} is below input_mtok {Format(input.Base)} and there is no cache_read_mtok{where}: a cache-read price under the cache-write key?");
            }

            if (hasWrite && table.TryGetPrice("cache_write_1h_mtok", out PriceValue write1h) && write1h.Base < write.Base)
            {
                Add(IssueSeverity.Warning, "cache-write-1h-below-5m",
                    $"cache_write_1h_mtok {Format(write1h.Base)} is below the 5-minute cache_write_mtok {Format(write.Base)}{where}");
            }
        }

        if (model.Mode is "embedding")
        {
            // A name token only chat/completion models carry ("chat", "instruct", "gpt", "claude", "sonnet",
            // "flash", ...) or a positive output price: embeddings produce vectors, not tokens.
            string? chatToken = model.Id.ToLowerInvariant()
                .Split(s_nameSeparators, StringSplitOptions.RemoveEmptyEntries)
                .FirstOrDefault(s_chatTokens.Contains);
            bool pricesOutput = model.Prices.Any(e => e.Table.TryGetPrice("output_mtok", out PriceValue output) && output.Base > 0);
            if (chatToken is not null || pricesOutput)
            {
                Add(IssueSeverity.Warning, "embedding-mode-on-chat-model",
                    $"mode is 'embedding' but {(pricesOutput ? "it prices output tokens" : $"its name says '{chatToken}'")}: a chat model marked embedding?");
            }
        }
    }

    private static IEnumerable<decimal> AllPrices(PriceValue value)
    {
        yield return value.Base;
        foreach (PriceTier tier in value.Tiers)
        {
            yield return tier.Price;
        }
    }

    /// <summary>Exact, without trailing zeros (dividing by 1.000… drops them).</summary>
    internal static string Format(decimal value) => (value / 1.000000000000000000000000000000000m).ToString(CultureInfo.InvariantCulture);
}
