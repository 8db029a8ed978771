using LlmCost.Core.Pricing;

namespace LlmCost.Cli;

/// <summary>The production wiring of the CLI: the built-in catalog, or a genai-prices / LiteLLM file given with --catalog.</summary>
internal static class CliDefaults
{
    public static CliServices Services { get; } = new()
    {
        CatalogLoader = LoadCatalog,
        CalculatorFactory = path => path is null ? PricingEngine.Default : new PricingEngine(LoadCatalog(path)),
    };

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
