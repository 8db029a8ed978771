using LlmCost.Core.Alerts;
using LlmCost.Core.Audit;
using LlmCost.Core.Retention;
using LlmCost.Core.Rollups;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmCost.Storage.Operations;

/// <summary>The tables, queue and container of the operations module (logical names; the prefix is applied by <see cref="StorageNames"/>).</summary>
public static class OperationsStorage
{
    public const string RollupsTable = "rollups";
    public const string AlertsTable = "alerts";
    public const string SubscriptionsTable = "alertsubscriptions";
    public const string RulesTable = "alertrules";
    public const string DeliveriesTable = "alertdeliveries";
    public const string AuditTable = "audit";

    /// <summary>The alert fan-out queue (its poison twin is "{name}-poison").</summary>
    public const string AlertQueue = "alerts";

    /// <summary>Reports ("reports/..."), archives ("archive/...") and GDPR exports ("exports/...").</summary>
    public const string FilesContainer = "files";

    /// <summary>Registers the storage adapters of Core's operations ports. Needs <c>AddLlmCostStorage</c>.</summary>
    public static IServiceCollection AddOperationsStorage(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddLlmCostTable(RollupsTable);
        services.AddLlmCostTable(AlertsTable);
        services.AddLlmCostTable(SubscriptionsTable);
        services.AddLlmCostTable(RulesTable);
        services.AddLlmCostTable(DeliveriesTable);
        services.AddLlmCostTable(AuditTable);
        services.AddLlmCostQueue(AlertQueue);
        services.AddLlmCostContainer(FilesContainer);
        services.TryAddSingleton<IRollupStore, TableRollupStore>();
        services.TryAddSingleton<IAlertStore, TableAlertStore>();
        services.TryAddSingleton<ISubscriptionStore, TableSubscriptionStore>();
        services.TryAddSingleton<IAlertRuleStore, TableAlertRuleStore>();
        services.TryAddSingleton<IDeliveryLog, TableDeliveryLog>();
        services.TryAddSingleton<IAlertQueue, StorageAlertQueue>();
        services.TryAddSingleton<IArchiveStore, BlobArchiveStore>();
        services.TryAddSingleton<IAuditLog, TableAuditLog>();
        return services;
    }

    /// <summary>A tenant id (or any text) made safe as a blob path segment or key part (reversible escaping).</summary>
    public static string SafeName(string text) => StorageKeys.Escape(text);
}
