using LlmCost.Core.Recording;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmCost.Storage.Usage;

public static class UsageStorageServiceCollectionExtensions
{
    /// <summary>The usage tables and the Table Storage adapters of the recording ports.</summary>
    public static IServiceCollection AddUsageStorage(this IServiceCollection services)
    {
        services.AddLlmCostTable(UsageTables.Events);
        services.AddLlmCostTable(UsageTables.Scopes);
        services.AddLlmCostTable(UsageTables.Touched);
        services.AddLlmCostTable(UsageTables.TenantDays);
        services.TryAddSingleton<UsageScopeProjector>();
        services.TryAddSingleton<UsageEventWriter>();
        services.TryAddSingleton<IUsageEventStore>(sp => sp.GetRequiredService<UsageEventWriter>());
        services.TryAddSingleton<TableUsageReader>();
        services.TryAddSingleton<IUsageEventReader>(sp => sp.GetRequiredService<TableUsageReader>());
        services.TryAddSingleton<IUsageSummaryReader>(sp => sp.GetRequiredService<TableUsageReader>());
        services.TryAddSingleton<UsageRepair>();
        return services;
    }
}
