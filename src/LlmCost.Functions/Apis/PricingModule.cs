using LlmCost.Core.Audit;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Functions.Apis.Pricing;
using LlmCost.Storage;
using LlmCost.Storage.Pricing;
using LlmCost.Storage.Recording;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace LlmCost.Functions;

/// <summary>
/// The Pricing module: tenant price policies (admin API, Table Storage, a per-instance cache) and the one
/// policy-aware <see cref="IPriceCalculator"/> that ingest, /api/price, budget authorisation and estimates share.
/// Registered before the modules that fall back to the built-in catalog, so its calculator wins.
/// </summary>
public static class PricingModule
{
    public const string CurrencySection = "LlmCost:Currency";

    public static IServiceCollection AddPricingModule(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<PricingOptions>().BindConfiguration(PricingOptions.Section)
            .Validate(o => o.IsValid(), $"{PricingOptions.Section}: a setting is out of range (see PricingOptions)").ValidateOnStart();
        services.AddLlmCostStorage(configuration);
        // Dated exchange rates for currency=… on usage queries and budget status; bad entries fail start-up.
        services.AddOptions<CurrencyOptions>().BindConfiguration(CurrencySection)
            .Validate(o => CurrencyConverter.FromOptions(o).Errors.Count == 0, $"{CurrencySection}: an exchange rate is invalid (a 3-letter code, yyyy-MM-dd dates, positive rates)")
            .ValidateOnStart();
        services.TryAddSingleton(sp => CurrencyConverter.FromOptions(sp.GetRequiredService<IOptions<CurrencyOptions>>().Value).Converter!);
        services.AddLlmCostTable(TableTenantPolicyStore.TableName);
        services.TryAddSingleton<TableTenantPolicyStore>();
        services.TryAddSingleton<ITenantPolicyStore>(sp => sp.GetRequiredService<TableTenantPolicyStore>());
        services.AddSingleton<IAuditOutbox>(sp => sp.GetRequiredService<TableTenantPolicyStore>());
        services.AddLlmCostContainer(BlobCatalogStore.ContainerName);
        services.TryAddSingleton<BlobCatalogStore>();
        services.TryAddSingleton<ICatalogStore>(sp => sp.GetRequiredService<BlobCatalogStore>());
        services.TryAddSingleton(sp => new PublishedCatalogSource(sp.GetRequiredService<ICatalogStore>()));
        services.TryAddSingleton<ICatalogSource>(sp => sp.GetRequiredService<PublishedCatalogSource>());
        services.TryAddSingleton(sp => new CatalogPublisher(sp.GetRequiredService<ICatalogStore>(), sp.GetRequiredService<TimeProvider>(), sp.GetService<AuditTrail>()));
        services.AddHostedService<CatalogPollingService>();
        services.AddLlmCostTable(TableUsageRepricer.CheckpointTable);
        services.TryAddSingleton<IUsageRepricingStore, TableUsageRepricer>();
        services.TryAddSingleton(sp => new RepricingService(
            sp.GetRequiredService<IUsageEventReader>(),
            sp.GetRequiredService<IUsageRepricingStore>(),
            sp.GetRequiredService<TenantPolicyCache>(),
            sp.GetRequiredService<ICatalogStore>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<AuditTrail>(),
            sp.GetService<LlmCost.Core.Rollups.RollupRunner>(),
            sp.GetRequiredService<TenantMonthToDate>(),
            sp.GetService<IRepricingObserver>()));
        services.TryAddSingleton(sp => new TenantPolicyCache(
            sp.GetRequiredService<ITenantPolicyStore>(),
            sp.GetRequiredService<ICatalogSource>(),
            sp.GetRequiredService<TimeProvider>(),
            TimeSpan.FromSeconds(sp.GetRequiredService<IOptions<PricingOptions>>().Value.PolicyRefreshSeconds)));
        services.TryAddSingleton<IPricingTermsSource>(sp => sp.GetRequiredService<TenantPolicyCache>());
        services.TryAddSingleton(sp => new TenantMonthToDate(
            sp.GetRequiredService<IUsageSummaryReader>(),
            sp.GetRequiredService<TimeProvider>(),
            TimeSpan.FromSeconds(sp.GetRequiredService<IOptions<PricingOptions>>().Value.MonthToDateRefreshSeconds)));
        services.TryAddSingleton<IPriceCalculator>(sp => new TenantAwarePriceCalculator(
            sp.GetRequiredService<IPricingTermsSource>(), sp.GetRequiredService<TenantMonthToDate>()));
        services.TryAddSingleton(sp =>
        {
            var cache = sp.GetRequiredService<TenantPolicyCache>();
            var catalogs = sp.GetRequiredService<ICatalogSource>();
            var service = new TenantPolicyService(sp.GetRequiredService<ITenantPolicyStore>(), sp.GetRequiredService<TimeProvider>(), () => catalogs.Current.Catalog);
            service.Changed += cache.Invalidate;
            return service;
        });
        return services;
    }

    public static IEndpointRouteBuilder MapPricingModule(this IEndpointRouteBuilder endpoints)
    {
        long maxCatalogBytes = endpoints.ServiceProvider.GetRequiredService<IOptions<PricingOptions>>().Value.MaxCatalogBytes;
        return endpoints.MapPricingPolicyEndpoints().MapCatalogEndpoints(maxCatalogBytes).MapRepricingEndpoints();
    }
}
