using LlmCost.Core.Recording;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmCost.Storage.Recording;

public static class RecordingStorageServiceCollectionExtensions
{
    /// <summary>The usage tables, the ingest log and its projector, and the Table Storage adapters of the recording ports.</summary>
    public static IServiceCollection AddRecordingStorage(this IServiceCollection services)
    {
        services.AddLlmCostTable(UsageTables.Events);
        services.AddLlmCostTable(UsageTables.Scopes);
        services.AddLlmCostTable(UsageTables.Touched);
        services.AddLlmCostTable(UsageTables.TenantDays);
        services.AddLlmCostTable(UsageIngestLog.Table);
        services.AddLlmCostTable(UsageIngestLog.ActiveTable);
        services.AddOptions<UsageIngestOptions>().BindConfiguration(UsageIngestOptions.Section)
            .Validate(o => o.IsValid(), $"{UsageIngestOptions.Section}: a setting is out of range (see UsageIngestOptions)").ValidateOnStart();
        services.TryAddSingleton<UsageScopeProjector>();
        services.TryAddSingleton<UsageProjectionTracker>();
        services.TryAddSingleton<UsageProjector>();
        services.TryAddSingleton<UsageIngestWriter>();
        services.TryAddSingleton<IUsageEventStore>(sp => sp.GetRequiredService<UsageIngestWriter>());
        services.AddHostedService<UsageProjectionService>();
        services.TryAddSingleton<TableUsageReader>();
        services.TryAddSingleton<IUsageEventReader>(sp => sp.GetRequiredService<TableUsageReader>());
        services.TryAddSingleton<IUsageSummaryReader>(sp => sp.GetRequiredService<TableUsageReader>());
        services.TryAddSingleton<UsageRepair>();
        services.TryAddSingleton<IUsageIngestMaintenance, UsageIngestMaintenance>();
        return services;
    }
}
