using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace LlmCost.Core.Pricing;

/// <summary>A model resolved from a (provider, model name) pair.</summary>
/// <param name="Provider">The provider that answered (the requested one, or the one inferred from the model name).</param>
/// <param name="Model">The matched model (possibly from one of the provider's fallback providers).</param>
/// <param name="ModelProvider">The provider whose model list holds <paramref name="Model"/>.</param>
public sealed record ResolvedModel(CatalogProvider Provider, CatalogModel Model, CatalogProvider ModelProvider);

/// <summary>A model with the price table in force at a given time.</summary>
public sealed record CatalogModelPrice(CatalogProvider Provider, CatalogModel Model, PriceEntry Entry)
{
    public string ProviderId => Provider.Id;

    public string ModelId => Model.Id;

    public PriceTable Table => Entry.Table;
}

/// <summary>
/// The price catalog: providers and models compiled from genai-prices (built in) or an imported file.
/// Immutable once built; model resolution is cached per (provider, model) string pair.
/// </summary>
public sealed class PriceCatalog
{
    /// <summary>Cached resolutions beyond this count are recomputed, so that a flood of junk names cannot exhaust memory.</summary>
    private const int MaxCachedResolutions = 50_000;

    private static readonly Regex s_compactDate = new(
        @"(-)(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=-|:|$)", RegexOptions.ECMAScript);

    private static readonly Lazy<PriceCatalog> s_builtIn = new(LoadBuiltInCore, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly Dictionary<string, CatalogProvider> _byId;
    private readonly ConcurrentDictionary<(string? Provider, string Model), Resolution> _cache = new();
    private int _cached;

    public PriceCatalog(IReadOnlyList<CatalogProvider> providers, string source)
    {
        ArgumentNullException.ThrowIfNull(providers);
        ArgumentException.ThrowIfNullOrEmpty(source);
        Providers = providers;
        Source = source;
        _byId = new Dictionary<string, CatalogProvider>(StringComparer.Ordinal);
        foreach (CatalogProvider provider in providers)
        {
            _byId.TryAdd(provider.Id, provider);
        }
    }

    /// <summary>Provenance of the prices, e.g. "genai-prices@0.1.8" or "litellm:/path/file.json".</summary>
    public string Source { get; }

    public IReadOnlyList<CatalogProvider> Providers { get; }

    public int ModelCount => Providers.Sum(p => p.Models.Count);

    /// <summary>The catalog shipped inside the assembly: genai-prices 0.1.8 (MIT), compiled once per process.</summary>
    public static PriceCatalog BuiltIn => s_builtIn.Value;

    public CatalogProvider? FindProvider(string providerId) =>
        _byId.TryGetValue(providerId, out CatalogProvider? provider) ? provider : null;

    /// <summary>Finds a model by its catalog id (not by match rules): for `catalog show`.</summary>
    public CatalogModel? FindModelById(string providerId, string modelId)
    {
        CatalogProvider? provider = FindProvider(providerId);
        return provider?.Models.FirstOrDefault(m => string.Equals(m.Id, modelId, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// Resolves a model name as genai-prices 0.1.8 does: provider by id or its provider_match (or, without a
    /// provider, the first provider whose model_match accepts the name); then the provider's first model whose
    /// match accepts the name, then its fallback providers' models, then the same again with a compact date
    /// suffix (-20250514) rewritten as -2025-05-14. Names compare lower-cased and trimmed.
    /// </summary>
    /// <param name="at">Unused for resolution (match rules do not change over time); kept so callers state when.</param>
    public bool TryResolve(string? provider, string model, DateTimeOffset at, out CatalogModelPrice resolved)
    {
        _ = at;
        Resolution resolution = Resolve(provider, model);
        if (resolution.Model is null)
        {
            resolved = null!;
            return false;
        }

        resolved = new CatalogModelPrice(resolution.Model.Provider, resolution.Model.Model, resolution.Model.Model.PriceAt(at));
        return true;
    }

    /// <summary>The resolution with the reason it failed, if it did. Cached.</summary>
    internal Resolution Resolve(string? provider, string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        (string? Provider, string Model) key = (provider, model);
        if (_cache.TryGetValue(key, out Resolution? cached))
        {
            return cached;
        }

        Resolution resolution = ResolveUncached(provider, model);
        // A counter, not _cache.Count (which takes every lock of the dictionary).
        if (Volatile.Read(ref _cached) < MaxCachedResolutions && _cache.TryAdd(key, resolution))
        {
            Interlocked.Increment(ref _cached);
        }

        return resolution;
    }

    /// <summary>
    /// All models of a provider (its own list, not fallbacks) with the prices in force at <paramref name="at"/>,
    /// without models a loader rejected. For adaptive budgets: pick a cheaper model of the same provider.
    /// </summary>
    public IReadOnlyList<CatalogModelPrice> ModelsOf(string providerId, DateTimeOffset at)
    {
        CatalogProvider? provider = FindProvider(providerId);
        if (provider is null)
        {
            return [];
        }

        var models = new List<CatalogModelPrice>(provider.Models.Count);
        foreach (CatalogModel model in provider.Models)
        {
            if (model.Rejected is null)
            {
                models.Add(new CatalogModelPrice(provider, model, model.PriceAt(at)));
            }
        }

        return models;
    }

    /// <summary>
    /// A model name that resolves back to <paramref name="model"/> under <paramref name="provider"/> (its id
    /// when it matches itself, else one of the literal names of its match rule), for telling a caller which
    /// model to call; null when no literal name does (a regex-only rule).
    /// </summary>
    public string? CallableName(CatalogProvider provider, CatalogModel model)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(model);
        foreach (string candidate in model.Match.LiteralNames().Prepend(model.Id))
        {
            if (Resolve(provider.Id, candidate).Model is { } resolved && ReferenceEquals(resolved.Model, model))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Every model of every provider with the prices in force at <paramref name="at"/>.</summary>
    public IEnumerable<CatalogModelPrice> ListModels(DateTimeOffset at)
    {
        foreach (CatalogProvider provider in Providers)
        {
            foreach (CatalogModel model in provider.Models)
            {
                yield return new CatalogModelPrice(provider, model, model.PriceAt(at));
            }
        }
    }

    private Resolution ResolveUncached(string? providerName, string model)
    {
        string name = model.ToLowerInvariant().Trim();
        string? providerId = string.IsNullOrEmpty(providerName) ? null : providerName;

        // LiteLLM-style "provider/model" names under the pseudo-provider "litellm".
        if (providerId is not null && providerId.Equals("litellm", StringComparison.OrdinalIgnoreCase) && name.Contains('/'))
        {
            int slash = name.IndexOf('/');
            string prefix = name[..slash];
            string rest = name[(slash + 1)..];
            if (prefix.Length > 0 && rest.Length > 0 && FindProviderByName(prefix) is not null)
            {
                providerId = prefix;
                name = rest;
            }
        }

        CatalogProvider? provider = null;
        if (providerId is not null)
        {
            provider = FindProviderByName(providerId);
            if (provider is null && !providerId.Equals("litellm", StringComparison.OrdinalIgnoreCase))
            {
                return Resolution.Failed($"unknown provider '{providerName}'");
            }
        }

        if (provider is null)
        {
            if (name.Length > 0)
            {
                foreach (CatalogProvider candidate in Providers)
                {
                    if (candidate.ModelMatch is not null && candidate.ModelMatch.Matches(name))
                    {
                        provider = candidate;
                        break;
                    }
                }
            }

            if (provider is null)
            {
                return Resolution.Failed($"no provider given and none could be inferred from model '{model}'");
            }
        }

        ResolvedModel? found = FindModel(provider, name);
        if (found is null)
        {
            string normalised = s_compactDate.Replace(name, NormaliseDate);
            if (!string.Equals(normalised, name, StringComparison.Ordinal))
            {
                found = FindModel(provider, normalised);
            }
        }

        return found is null
            ? Resolution.Failed($"unknown model '{model}' for provider '{provider.Id}' in {Source}")
            : new Resolution(found, null);
    }

    private CatalogProvider? FindProviderByName(string providerName)
    {
        string lowered = providerName.ToLowerInvariant().Trim();
        if (_byId.TryGetValue(lowered, out CatalogProvider? byId))
        {
            return byId;
        }

        foreach (CatalogProvider provider in Providers)
        {
            if (provider.ProviderMatch is not null && provider.ProviderMatch.Matches(lowered))
            {
                return provider;
            }
        }

        return null;
    }

    private ResolvedModel? FindModel(CatalogProvider provider, string name)
    {
        CatalogModel? own = FirstMatch(provider, name);
        if (own is not null)
        {
            return new ResolvedModel(provider, own, provider);
        }

        // Fallbacks are one level deep, as in genai-prices.
        foreach (string fallbackId in provider.FallbackModelProviders)
        {
            if (_byId.TryGetValue(fallbackId, out CatalogProvider? fallback))
            {
                CatalogModel? model = FirstMatch(fallback, name);
                if (model is not null)
                {
                    return new ResolvedModel(provider, model, fallback);
                }
            }
        }

        return null;
    }

    private static CatalogModel? FirstMatch(CatalogProvider provider, string name)
    {
        foreach (CatalogModel model in provider.Models)
        {
            if (model.Match.Matches(name))
            {
                return model;
            }
        }

        return null;
    }

    private static string NormaliseDate(Match match)
    {
        int year = int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        int month = int.Parse(match.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture);
        int day = int.Parse(match.Groups[4].Value, System.Globalization.CultureInfo.InvariantCulture);
        // Only real calendar dates are rewritten (20250231 stays as it is).
        return day <= DateTime.DaysInMonth(year, month)
            ? $"{match.Groups[1].Value}{match.Groups[2].Value}-{match.Groups[3].Value}-{match.Groups[4].Value}"
            : match.Value;
    }

    private static PriceCatalog LoadBuiltInCore()
    {
        using Stream stream = typeof(PriceCatalog).Assembly.GetManifestResourceStream(BuiltInResourceName)
            ?? throw new InvalidOperationException($"The built-in price catalog resource '{BuiltInResourceName}' is missing from the assembly.");
        return GenaiPricesImporter.Load(stream, BuiltInSource);
    }

    internal const string BuiltInResourceName = "LlmCost.Core.Pricing.Data.genai-prices-0.1.8.json";

    /// <summary>Provenance of the built-in catalog.</summary>
    public const string BuiltInSource = "genai-prices@0.1.8";

    internal sealed class Resolution(ResolvedModel? model, string? failure)
    {
        public ResolvedModel? Model { get; } = model;

        public string? Failure { get; } = failure;

        public static Resolution Failed(string reason) => new(null, reason);
    }
}
