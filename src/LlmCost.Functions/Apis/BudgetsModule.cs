using LlmCost.Core.Budgets;
using LlmCost.Core.Pricing;
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
        var options = new BudgetOptions
        {
            ReservationTtl = TimeSpan.FromSeconds(section.GetValue("ReservationTtlSeconds", 600.0)),
            DefinitionCacheTtl = TimeSpan.FromSeconds(section.GetValue("DefinitionCacheSeconds", 5.0)),
        };
        if (options.ReservationTtl <= TimeSpan.Zero || options.DefinitionCacheTtl < TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{Section}:ReservationTtlSeconds must be positive and {Section}:DefinitionCacheSeconds not negative.");
        }

        // Downgrade candidates per provider: LlmCost:Budgets:DowngradeModels:openai:0 = "gpt-4o-mini", ...
        var downgrades = section.GetSection("DowngradeModels").GetChildren()
            .ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.GetChildren().Select(m => m.Value!).Where(m => m is not null).ToList(), StringComparer.OrdinalIgnoreCase);

        services.AddSingleton(options);
        services.TryAddSingleton<IBudgetSpendForecaster, LinearBudgetForecaster>();
        services.TryAddSingleton<IPromptTokenCounter, TiktokenPromptTokenCounter>();
        services.TryAddSingleton<IDowngradeCatalog>(new ConfiguredDowngradeCatalog(downgrades));
        services.TryAddSingleton<IBudgetCostEstimator>(sp => new PriceCalculatorCostEstimator(sp.GetRequiredService<IPriceCalculator>()));
        services.AddSingleton<TableBudgetStore>();
        services.AddSingleton<IBudgetRepository>(sp => sp.GetRequiredService<TableBudgetStore>());
        services.AddSingleton<IBudgetLedger>(sp => sp.GetRequiredService<TableBudgetStore>());
        services.AddSingleton<IPendingAlertSource>(sp => sp.GetRequiredService<TableBudgetStore>());
        services.AddSingleton<BudgetService>();
        services.AddBackgroundFunction<BudgetReservationExpiryFunction>();
        return services;
    }

    public static IEndpointRouteBuilder MapBudgetsModule(this IEndpointRouteBuilder endpoints)
    {
        return endpoints.MapBudgetEndpoints();
    }
}
