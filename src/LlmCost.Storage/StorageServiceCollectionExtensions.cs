using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using LlmCost.Core.Audit;
using LlmCost.Core.Recording;
using LlmCost.Storage.Keys;

namespace LlmCost.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers the storage account (<see cref="LlmCostStorage"/>, the service clients, <see cref="StorageNames"/>)
    /// and the start-up creation of every table/queue/container registered with <see cref="AddLlmCostTable"/>,
    /// <see cref="AddLlmCostQueue"/>, <see cref="AddLlmCostContainer"/>. Safe to call more than once.
    /// </summary>
    public static IServiceCollection AddLlmCostStorage(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (services.Any(d => d.ServiceType == typeof(LlmCostStorage)))
        {
            return services;
        }

        services.AddOptions<LlmCostStorageOptions>().BindConfiguration(LlmCostStorageOptions.Section);
        services.TryAddSingleton<StorageNames>();
        services.TryAddSingleton(sp => sp.GetRequiredService<LlmCostStorage>().Tables);
        services.TryAddSingleton(sp => sp.GetRequiredService<LlmCostStorage>().Queues);
        services.TryAddSingleton(sp => sp.GetRequiredService<LlmCostStorage>().Blobs);
        // A factory, not type activation: LlmCostStorage also has a constructor over ready-made clients, and the
        // clients themselves are registered from it (activation would be ambiguous, and circular).
        services.TryAddSingleton(sp => new LlmCostStorage(sp.GetRequiredService<IConfiguration>(), sp.GetRequiredService<StorageNames>()));
        services.AddHostedService<StorageInitializer>();
        services.AddLlmCostTable(TableApiKeyStore.TableName);
        services.TryAddSingleton<TableApiKeyStore>();
        services.TryAddSingleton<IApiKeyStore>(sp => sp.GetRequiredService<TableApiKeyStore>());
        services.AddSingleton<IAuditOutbox>(sp => sp.GetRequiredService<TableApiKeyStore>());
        return services;
    }

    /// <summary>Declares a table (logical name, letters/digits) that must exist; created at start-up.</summary>
    public static IServiceCollection AddLlmCostTable(this IServiceCollection services, string logicalName) =>
        services.AddSingleton(new StorageResource(StorageResourceKind.Table, logicalName));

    /// <summary>Declares a queue (and its "-poison" twin) that must exist; created at start-up.</summary>
    public static IServiceCollection AddLlmCostQueue(this IServiceCollection services, string logicalName) =>
        services.AddSingleton(new StorageResource(StorageResourceKind.Queue, logicalName));

    /// <summary>Declares a blob container that must exist; created at start-up.</summary>
    public static IServiceCollection AddLlmCostContainer(this IServiceCollection services, string logicalName) =>
        services.AddSingleton(new StorageResource(StorageResourceKind.Container, logicalName));
}
