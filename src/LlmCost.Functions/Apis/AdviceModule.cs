using LlmCost.Core.Advice;
using LlmCost.Core.Alerts;
using LlmCost.Core.Budgets;
using LlmCost.Core.Capabilities;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Core.Retention;
using LlmCost.Functions.Apis.Advice;
using LlmCost.Storage;
using LlmCost.Storage.Advice;
using LlmCost.Storage.Operations;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmCost.Functions;

/// <summary>
/// The Advice module: recommendations from recorded usage, cost-optimal model selection, business metrics, the
/// recommendations timer and weekly digest. Registers its services and maps its endpoints and functions.
/// </summary>
public static class AdviceModule
{
    public const string Section = "LlmCost:Advice";

    public static IServiceCollection AddAdviceModule(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddAdviceSelector(configuration);
        services.AddLlmCostTable(TableBudgetDecisionLog.TableName);
        services.TryAddSingleton<TableBudgetDecisionLog>();
        services.TryAddSingleton<IBudgetDecisionLog>(sp => sp.GetRequiredService<TableBudgetDecisionLog>());
        services.TryAddSingleton<IBudgetDecisionSource>(sp => sp.GetRequiredService<TableBudgetDecisionLog>());
        services.TryAddSingleton<IAdviceUsageSource>(sp => new UsageEventAdviceSource(sp.GetRequiredService<IUsageEventReader>()));
        services.TryAddSingleton(sp => new RecommendationService(sp.GetRequiredService<IModelSelectorSource>(), sp.GetRequiredService<IAdviceUsageSource>()));
        services.TryAddSingleton(sp => new BusinessMetricsService(
            sp.GetRequiredService<IModelSelectorSource>(), sp.GetRequiredService<IAdviceUsageSource>(), sp.GetService<IBudgetDecisionSource>()));
        services.TryAddSingleton(sp => new ModelSelectionService(
            sp.GetRequiredService<IModelSelectorSource>(), sp.GetService<BudgetService>(), sp.GetService<IBudgetCostEstimator>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IRecommendationStore>(sp => new ArchiveRecommendationStore(sp.GetRequiredService<IArchiveStore>(), OperationsStorage.SafeName));
        services.TryAddSingleton(sp => new RecommendationRunner(
            sp.GetRequiredService<RecommendationService>(), sp.GetRequiredService<IRecommendationStore>(),
            sp.GetRequiredService<IAlertPublisher>(), sp.GetRequiredService<TimeProvider>()));
        services.AddBackgroundFunction<AdviceRecommendationsFunction>();
        return services;
    }

    /// <summary>
    /// The selector (capabilities over the app's price catalog, the tenants' advice settings), shared by the advice
    /// endpoints and the adaptive budgets' downgrade suggestions. Safe to call from both modules.
    /// </summary>
    public static IServiceCollection AddAdviceSelector(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        IConfigurationSection section = configuration.GetSection(Section);
        services.TryAddSingleton(sp =>
        {
            // The app's engine when it is one (a fixed catalog and policy file); else the built-in catalog's list
            // prices, the base the tenant-aware source below starts from: start-up must not read storage.
            PricingEngine engine = sp.GetRequiredService<IPriceCalculator>() as PricingEngine ?? PricingEngine.Default;
            return new ModelSelector(LoadCapabilities(section, engine.Catalog), engine, LoadSettings(section, engine.Catalog), sp.GetRequiredService<TimeProvider>());
        });
        services.TryAddSingleton<IModelSelectorSource>(sp =>
        {
            ModelSelector fixedPrices = sp.GetRequiredService<ModelSelector>();
            if (sp.GetService<IPricingTermsSource>() is not { } terms)
            {
                return fixedPrices;
            }

            // The terms the ingest prices with (the catalog in force and the tenant's policy), resolved per request.
            TimeProvider time = sp.GetRequiredService<TimeProvider>();
            return new TenantModelSelectors(terms, catalog => ReferenceEquals(catalog, fixedPrices.Engine.Catalog)
                ? fixedPrices
                : new ModelSelector(LoadCapabilities(section, catalog), new PricingEngine(catalog), LoadSettings(section, catalog), time), time);
        });
        return services;
    }

    public static IEndpointRouteBuilder MapAdviceModule(this IEndpointRouteBuilder endpoints) => endpoints.MapAdviceEndpoints();

    private static CapabilityCatalog LoadCapabilities(IConfigurationSection section, PriceCatalog prices)
    {
        string? snapshot = section["CapabilitySnapshotFile"] is { Length: > 0 } s ? s : null;
        string? overlay = section["CapabilityOverlayFile"] is { Length: > 0 } o ? o : null;
        if (snapshot is null && overlay is null)
        {
            return ReferenceEquals(prices, PriceCatalog.BuiltIn) ? CapabilityCatalog.BuiltIn : CapabilityCatalog.ForPrices(prices);
        }

        CapabilityLoad<CapabilityCatalog> load = CapabilityCatalog.LoadFiles(prices, snapshot, overlay);
        return load.Value ?? throw new InvalidOperationException($"{Section}:CapabilitySnapshotFile/CapabilityOverlayFile: {load.Error}");
    }

    /// <summary>The tenants' advice settings: inline JSON (Settings) or a file (SettingsFile); invalid settings fail the selector's creation (no silent defaults).</summary>
    private static AdviceSettings? LoadSettings(IConfigurationSection section, PriceCatalog prices)
    {
        string? json = section["Settings"];
        if (section["SettingsFile"] is { Length: > 0 } file)
        {
            json = File.ReadAllText(file);
        }

        if (string.IsNullOrWhiteSpace(json))
        {
            return null;
        }

        AdviceSettingsLoad load = AdviceSettings.Load(json, prices);
        return load.Settings ?? throw new InvalidOperationException($"{Section}:Settings: {string.Join("; ", load.Errors)}");
    }
}
