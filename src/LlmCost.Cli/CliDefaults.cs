using LlmCost.Core.Pricing;

namespace LlmCost.Cli;

/// <summary>The production wiring of the CLI: the built-in catalog, or a genai-prices file given with --catalog.</summary>
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

        if (!File.Exists(path))
        {
            throw new CliUsageException($"catalog file not found: {path}");
        }

        try
        {
            using FileStream stream = File.OpenRead(path);
            return GenaiPricesImporter.Load(stream, $"file:{Path.GetFileName(path)}");
        }
        catch (CatalogFormatException ex)
        {
            throw new CliUsageException($"{path} is not a valid genai-prices catalog: {ex.Message}");
        }
    }
}
