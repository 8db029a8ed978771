using LlmCost.Core.Pricing;

namespace LlmCost.Cli;

/// <summary>The production wiring of the CLI: the built-in catalog, or a genai-prices / LiteLLM file given with --catalog.</summary>
internal static class CliDefaults
{
    public static CliServices Services { get; } = new()
    {
        CatalogLoader = LoadCatalog,
        CalculatorFactory = CreateCalculator,
    };

    public static IPriceCalculator CreateCalculator(PricingSource source)
    {
        if (source.CatalogPath is null && source.PolicyPath is null)
        {
            return PricingEngine.Default;
        }

        PriceCatalog catalog = LoadCatalog(source.CatalogPath);
        if (source.PolicyPath is null)
        {
            return new PricingEngine(catalog);
        }

        // Tenant discounts, custom and mapped prices, volume tiers, regional uplift: applied to lines with tenant_id.
        PolicyLoadResult policy = PricingPolicy.LoadFile(source.PolicyPath, catalog);
        return policy.Policy is { } loaded
            ? new PricingEngine(catalog, loaded)
            : throw new CliUsageException($"invalid pricing policy {source.PolicyPath}: {string.Join("; ", policy.Errors)}");
    }

    public static PriceCatalog LoadCatalog(string? path)
    {
        if (path is null)
        {
            return PriceCatalog.BuiltIn;
        }

        // genai-prices or LiteLLM format, detected from the shape; entries with error-level issues load as
        // unpriced (with the issue as the reason) rather than pricing calls with garbage.
        CatalogLoadResult result = CatalogLoader.LoadFile(path);
        return result.Catalog ?? throw new CliUsageException($"cannot load catalog: {result.Error}");
    }
}
