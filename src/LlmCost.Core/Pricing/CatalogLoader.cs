using System.Text.Json;

namespace LlmCost.Core.Pricing;

public enum CatalogFormat
{
    GenaiPrices,
    LiteLlm,
}

/// <summary>The outcome of loading a catalog file: the catalog (null when unreadable), the format, every issue found.</summary>
public sealed record CatalogLoadResult
{
    public PriceCatalog? Catalog { get; init; }

    public CatalogFormat? Format { get; init; }

    /// <summary>Why nothing could be loaded (missing file, not JSON, unknown shape), naming the place.</summary>
    public string? Error { get; init; }

    public IReadOnlyList<CatalogIssue> Issues { get; init; } = [];

    /// <summary>
    /// Entries rejected because of <see cref="IssueSeverity.Error"/> issues (provider/model). They stay in the
    /// catalog so their names still resolve to them (not to another model's prices), but price as unpriced.
    /// </summary>
    public IReadOnlyList<string> Excluded { get; init; } = [];

    public bool Success => Catalog is not null;
}

/// <summary>
/// Loads price catalogs: the built-in one, or a file in either genai-prices or LiteLLM format (detected from the
/// JSON's shape), validated with <see cref="CatalogValidator"/>. Entries with <see cref="IssueSeverity.Error"/>
/// issues are left out (and listed) unless <paramref name="includeSuspicious"/> is set, so garbage never
/// loads silently.
/// </summary>
public static class CatalogLoader
{
    public static PriceCatalog BuiltIn => PriceCatalog.BuiltIn;

    public static CatalogLoadResult LoadFile(string path, bool includeSuspicious = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            return new CatalogLoadResult { Error = $"{path}: file not found" };
        }

        using FileStream stream = File.OpenRead(path);
        return Load(stream, Path.GetFullPath(path), includeSuspicious);
    }

    /// <param name="sourceName">Provenance recorded in the catalog and every quote (e.g. the file path).</param>
    public static CatalogLoadResult Load(Stream json, string sourceName, bool includeSuspicious = false)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = GenaiPricesImporter.Parse(json);
        }
        catch (CatalogFormatException e)
        {
            return new CatalogLoadResult { Error = $"{sourceName}: {e.Message}" };
        }

        using (document)
        {
            var issues = new List<CatalogIssue>();
            CatalogFormat format;
            PriceCatalog catalog;
            try
            {
                switch (document.RootElement.ValueKind)
                {
                    case JsonValueKind.Array:
                        format = CatalogFormat.GenaiPrices;
                        catalog = GenaiPricesImporter.Load(document.RootElement, $"genai-prices:{sourceName}");
                        break;
                    case JsonValueKind.Object:
                        format = CatalogFormat.LiteLlm;
                        catalog = LiteLlmImporter.Load(document.RootElement, $"litellm:{sourceName}", issues);
                        break;
                    default:
                        return new CatalogLoadResult { Error = $"{sourceName}: expected a genai-prices array of providers or a LiteLLM object of models" };
                }
            }
            catch (CatalogFormatException e)
            {
                return new CatalogLoadResult { Error = $"{sourceName}: {e.Message}" };
            }

            issues.AddRange(CatalogValidator.Validate(catalog));
            if (includeSuspicious)
            {
                return new CatalogLoadResult { Catalog = catalog, Format = format, Issues = issues };
            }

            (PriceCatalog kept, List<string> excluded) = RejectErrors(catalog, issues);
            return new CatalogLoadResult { Catalog = kept, Format = format, Issues = issues, Excluded = excluded };
        }
    }

    private static (PriceCatalog Catalog, List<string> Excluded) RejectErrors(PriceCatalog catalog, List<CatalogIssue> issues)
    {
        var bad = new Dictionary<(string, string), string>();
        foreach (CatalogIssue issue in issues)
        {
            if (issue.Severity == IssueSeverity.Error && issue.ModelId is not null)
            {
                (string, string) key = (issue.ProviderId, issue.ModelId);
                bad[key] = bad.TryGetValue(key, out string? previous) ? $"{previous}; {issue.Message}" : issue.Message;
            }
        }

        if (bad.Count == 0)
        {
            return (catalog, []);
        }

        var excluded = new List<string>();
        var providers = new List<CatalogProvider>(catalog.Providers.Count);
        foreach (CatalogProvider provider in catalog.Providers)
        {
            var models = new List<CatalogModel>(provider.Models.Count);
            foreach (CatalogModel model in provider.Models)
            {
                if (bad.TryGetValue((provider.Id, model.Id), out string? reason))
                {
                    excluded.Add($"{provider.Id}/{model.Id}");
                    models.Add(model.WithRejection(reason));
                }
                else
                {
                    models.Add(model);
                }
            }

            providers.Add(new CatalogProvider(provider.Id, provider.Name, models)
            {
                ApiPattern = provider.ApiPattern,
                ProviderMatch = provider.ProviderMatch,
                ModelMatch = provider.ModelMatch,
                FallbackModelProviders = provider.FallbackModelProviders,
                PricingUrls = provider.PricingUrls,
            });
        }

        return (new PriceCatalog(providers, catalog.Source), excluded);
    }
}
