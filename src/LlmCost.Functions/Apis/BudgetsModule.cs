using LlmCost.Core.Advice;
using LlmCost.Core.Budgets;
using LlmCost.Core.Estimation;
using LlmCost.Core.Forecasting;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Functions.Apis.Budgets;
using LlmCost.Functions.Hosting;
using LlmCost.Storage;
using LlmCost.Storage.Budgets;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmCost.Functions;

/// <summary>The Budgets module: budgets (issue 5). Registers its services and maps its endpoints and functions.</summary>
public static class BudgetsModule
{
    public const string Section = "LlmCost:Budgets";

    public static IServiceCollection AddBudgetsModule(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddLlmCostStorage(configuration);
        services.AddLlmCostTable(TableBudgetStore.TableName);

        var section = configuration.GetSection(Section);
        // Validated here, at start-up: a deployment that asked for a default budget must not run without it.
        var defaults = (section.GetSection("Defaults").Get<BudgetDefaultsOptions>() ?? new BudgetDefaultsOptions()).Resolve();
        var options = new BudgetOptions
        {
            DefaultMonthly = defaults,
            ReservationTtl = TimeSpan.FromSeconds(section.GetValue("ReservationTtlSeconds", 600.0)),
            MaxReservationTtl = TimeSpan.FromSeconds(section.GetValue("MaxReservationTtlSeconds", 86400.0)),
            DefinitionCacheTtl = TimeSpan.FromSeconds(section.GetValue("DefinitionCacheSeconds", 5.0)),
            AppliedEventRetention = TimeSpan.FromDays(section.GetValue("AppliedEventRetentionDays", 7.0)),
            ReservationRetention = TimeSpan.FromDays(section.GetValue("ReservationRetentionDays", 35.0)),
        };
        if (options.ReservationTtl <= TimeSpan.Zero || options.ReservationTtl > options.MaxReservationTtl || options.DefinitionCacheTtl < TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{Section}:ReservationTtlSeconds must be positive and at most {Section}:MaxReservationTtlSeconds, and {Section}:DefinitionCacheSeconds not negative.");
        }

        // A marker or a closed reservation must outlive every reservation that could still be settled.
        if (options.AppliedEventRetention < options.MaxReservationTtl || options.ReservationRetention < options.MaxReservationTtl + TimeSpan.FromDays(1))
        {
            throw new InvalidOperationException($"{Section}:AppliedEventRetentionDays must be at least MaxReservationTtlSeconds and {Section}:ReservationRetentionDays a day longer.");
        }

        var ledger = section.GetSection("Ledger");
        var ledgerOptions = new TableBudgetStoreOptions
        {
            Lanes = ledger.GetValue("Lanes", LedgerLimits.DefaultLanes),
            CommittersPerTenant = ledger.GetValue("CommittersPerTenant", 3),
            CacheStaleness = TimeSpan.FromMilliseconds(ledger.GetValue("CacheStalenessMilliseconds", 1000.0)),
        };
        if (ledgerOptions.Lanes is < 1 or > LedgerLimits.MaxLanes || ledgerOptions.CommittersPerTenant is < 1 or > 16 || ledgerOptions.CacheStaleness < TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{Section}:Ledger:Lanes must be 1-{LedgerLimits.MaxLanes}, {Section}:Ledger:CommittersPerTenant 1-16, CacheStalenessMilliseconds not negative.");
        }

        // Extra (cross-provider) downgrade candidates: LlmCost:Budgets:DowngradeModels:anthropic:0 = "claude-3-5-haiku-latest", ...
        var downgrades = section.GetSection("DowngradeModels").GetChildren()
            .ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.GetChildren().Select(m => m.Value!).Where(m => m is not null).ToList(), StringComparer.OrdinalIgnoreCase);

        services.AddSingleton(options);
        // Status, the exhaustion date and the projection timer share one forecaster (trend + day-of-week, with its interval).
        services.TryAddSingleton<SpendForecaster>();
        services.TryAddSingleton<BudgetForecaster>();
        services.TryAddSingleton<IPromptTokenCounter, SharedPromptTokenCounter>();
        // The usage module registers the calculator (with tenant overrides); the built-in catalog otherwise.
        services.TryAddSingleton<IPriceCalculator>(PricingEngine.Default);
        // Downgrade suggestions come from the advice selector: current models with the capabilities the call needs.
        services.AddAdviceSelector(configuration);
        services.TryAddSingleton<IDowngradeCatalog>(sp => new CapabilityDowngradeCatalog(
            sp.GetRequiredService<ModelSelector>(),
            sp.GetRequiredService<TimeProvider>(),
            downgrades));
        services.TryAddSingleton<IBudgetCostEstimator>(sp => new EstimatorBudgetCostEstimator(
            new CostEstimator(sp.GetRequiredService<IPriceCalculator>(), sp.GetRequiredService<TimeProvider>())));
        services.AddSingleton(ledgerOptions);
        // A budget created mid-period starts from the usage summaries (registered by the usage module); the forecaster
        // learns from the same summaries, and from the rollups for days past raw retention.
        services.TryAddSingleton<IBudgetSpendHistory>(sp => new UsageSummarySpendHistory(
            sp.GetRequiredService<IUsageSummaryReader>(), sp.GetRequiredService<TimeProvider>(), sp.GetService<LlmCost.Core.Retention.ArchivedUsage>()));
        services.AddSingleton(sp => new TableBudgetStore(
            sp.GetRequiredService<LlmCostStorage>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IBudgetSpendHistory>(), ledgerOptions, sp.GetRequiredService<ILogger<TableBudgetStore>>()));
        services.AddSingleton<IBudgetRepository>(sp => sp.GetRequiredService<TableBudgetStore>());
        services.AddSingleton<IBudgetLedger>(sp => sp.GetRequiredService<TableBudgetStore>());
        services.AddSingleton<IPendingAlertSource>(sp => sp.GetRequiredService<TableBudgetStore>());
        services.AddSingleton<LlmCost.Core.Audit.IAuditOutbox, BudgetAuditOutbox>();
        services.AddSingleton<BudgetService>();
        services.AddSingleton<IBudgetUserData>(sp => sp.GetRequiredService<BudgetService>());
        services.AddSingleton<LlmCost.Core.Retention.IUserDataHolder, BudgetUserData>();
        // Recording: a reservation_id is checked before anything is stored; the usage projector hands every logged
        // event to the observer, durably and off the request (idempotent per event id, batched per tenant).
        services.AddSingleton<IUsageAdmissionCheck, ReservationAdmissionCheck>();
        services.AddSingleton<IUsageRecordedObserver, BudgetUsageObserver>();
        services.AddBackgroundFunction<BudgetReservationExpiryFunction>();
        return services;
    }

    public static IEndpointRouteBuilder MapBudgetsModule(this IEndpointRouteBuilder endpoints)
    {
        return endpoints.MapBudgetEndpoints();
    }
}
