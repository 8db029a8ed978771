using LlmCost.Core.Advice;
using LlmCost.Core.Budgets;
using LlmCost.Core.Estimation;
using LlmCost.Core.Forecasting;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Functions.Apis.Budgets;
using LlmCost.Storage;
using LlmCost.Storage.Budgets;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmCost.Functions;

/// <summary>The Budgets module: budgets, reservations and their settlement. Registers its services and maps its endpoints and functions.</summary>
public static class BudgetsModule
{
    public const string Section = "LlmCost:Budgets";

    public static IServiceCollection AddBudgetsModule(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddLlmCostStorage(configuration);
        services.AddLlmCostTable(TableBudgetStore.TableName);

        services.AddValidatedSettings<BudgetSettings>(Section, s => s.Validate());
        services.TryAddSingleton(sp => sp.GetRequiredService<BudgetSettings>().ToOptions());
        // Status, the exhaustion date and the projection timer share one forecaster (trend + day-of-week, with its interval).
        services.TryAddSingleton<SpendForecaster>();
        services.TryAddSingleton<BudgetForecaster>();
        services.TryAddSingleton<IPromptTokenCounter, SharedPromptTokenCounter>();
        // The usage module registers the calculator (with tenant overrides); the built-in catalog otherwise.
        services.TryAddSingleton<IPriceCalculator>(PricingEngine.Default);
        // Downgrade suggestions come from the advice selector: current models with the capabilities the call needs.
        services.AddAdviceSelector(configuration);
        services.TryAddSingleton<IDowngradeCatalog>(sp => new CapabilityDowngradeCatalog(
            sp.GetRequiredService<IModelSelectorSource>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<BudgetSettings>().Downgrades()));
        services.TryAddSingleton<IBudgetCostEstimator>(sp => new EstimatorBudgetCostEstimator(
            new CostEstimator(sp.GetRequiredService<IPriceCalculator>(), sp.GetRequiredService<TimeProvider>())));
        services.TryAddSingleton(sp => sp.GetRequiredService<BudgetSettings>().ToLedgerOptions());
        // A budget created mid-period starts from the usage summaries (registered by the usage module); the forecaster
        // learns from the same summaries, and from the rollups for days past raw retention.
        services.TryAddSingleton<IBudgetSpendHistory>(sp => new UsageSummarySpendHistory(
            sp.GetRequiredService<IUsageSummaryReader>(), sp.GetRequiredService<TimeProvider>(), sp.GetService<LlmCost.Core.Retention.ArchivedUsage>()));
        services.AddSingleton(sp => new TableBudgetStore(
            sp.GetRequiredService<LlmCostStorage>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IBudgetSpendHistory>(), sp.GetRequiredService<TableBudgetStoreOptions>(), sp.GetRequiredService<ILogger<TableBudgetStore>>()));
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
        // Acknowledged usage counts in this instance's authorisations at once, before the projector reaches the ledger.
        services.AddSingleton<UnappliedBudgetSpend>();
        services.AddSingleton<IUsageAcknowledgedObserver>(sp => sp.GetRequiredService<UnappliedBudgetSpend>());
        // Re-pricing: the spent figures of open periods follow the corrected costs.
        services.AddSingleton<LlmCost.Core.Pricing.IRepricingObserver, BudgetRepricingObserver>();
        services.AddBackgroundFunction<BudgetReservationExpiryFunction>();
        return services;
    }

    public static IEndpointRouteBuilder MapBudgetsModule(this IEndpointRouteBuilder endpoints)
    {
        return endpoints.MapBudgetEndpoints();
    }
}
