using LlmCost.Core.Alerts;
using LlmCost.Core.Anomalies;
using LlmCost.Core.Forecasting;
using LlmCost.Core.Recording;
using LlmCost.Core.Reports;
using LlmCost.Core.Retention;
using LlmCost.Core.Rollups;
using LlmCost.Functions.Apis.Operations;
using LlmCost.Storage.Operations;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace LlmCost.Functions;

/// <summary>The Operations module: rollups, anomalies, forecasts, alerts, reports, retention and GDPR. Registers its services and maps its endpoints and functions.</summary>
public static class OperationsModule
{
    public static IServiceCollection AddOperationsModule(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOperationsStorage();

        // Core's services take their settings as plain objects: bound and checked here, at start-up.
        services.AddValidatedSettings<AnomalyOptions>("LlmCost:Anomalies", o => o.Validate());
        services.AddValidatedSettings<RetentionOptions>("LlmCost:Retention", o => o.Validate());
        services.AddValidatedSettings<RollupOptions>("LlmCost:Rollups", _ => { });
        services.AddOptions<AlertDeliveryOptions>().BindConfiguration(AlertDeliveryOptions.Section)
            .Validate(o => o.IsValid(), $"{AlertDeliveryOptions.Section}: SmtpPort 1-65535, SmtpSecurity none|starttls|ssl|auto, RetryAttempts 0-10, positive timeouts and a From address")
            .ValidateOnStart();

        // The recorded usage events (usage module's IUsageEventReader and tables) and, for days already archived, the
        // archives: together the rollups' source of truth (a late event never makes a day look partial).
        services.TryAddSingleton<IUsageFactSource>(sp => new ArchiveAwareFactSource(
            new UsageEventFactSource(sp.GetRequiredService<LlmCost.Core.Recording.IUsageEventReader>()), sp.GetRequiredService<IArchiveStore>(), OperationsStorage.SafeName));
        services.TryAddSingleton<IRawEventMaintenance, TableRawEventMaintenance>();
        services.TryAddSingleton<RollupRunner>();
        services.TryAddSingleton<AnomalyDetector>();
        services.TryAddSingleton<AnomalyScanner>();
        services.TryAddSingleton<SpendForecaster>();
        services.TryAddSingleton<ProjectionAlerter>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IBudgetForecastSource, BudgetForecastSource>());
        services.TryAddSingleton<AlertPublisher>();
        services.TryAddSingleton<IAlertPublisher>(sp => sp.GetRequiredService<AlertPublisher>());
        services.TryAddSingleton<AlertFanOut>();
        // Budget alerts (recorded atomically with the spend by the budgets module) are drained by the dispatch timer.
        services.AddSingleton<IAlertOutboxSource>(sp => new PendingAlertOutbox(sp.GetRequiredService<LlmCost.Core.Budgets.IPendingAlertSource>()));
        AlertChannelSender.AddAlertHttpClient(services);
        services.TryAddSingleton<IAlertChannelSender, AlertChannelSender>();
        services.TryAddSingleton(sp => new ReportService(sp.GetRequiredService<IRollupStore>(), sp.GetRequiredService<IArchiveStore>(), OperationsStorage.SafeName,
            sp.GetRequiredService<RollupRunner>(), sp.GetRequiredService<TimeProvider>(), sp.GetService<LlmCost.Core.Pricing.CurrencyConverter>()));
        services.TryAddSingleton(sp => new RetentionRunner(
            sp.GetRequiredService<IRawEventMaintenance>(), sp.GetRequiredService<IArchiveStore>(),
            OperationsStorage.SafeName, sp.GetRequiredService<RetentionOptions>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IRollupStore>()));
        services.TryAddSingleton(sp => new GdprService(
            sp.GetRequiredService<IRawEventMaintenance>(), sp.GetRequiredService<IArchiveStore>(), OperationsStorage.SafeName,
            sp.GetRequiredService<IRollupStore>(), sp.GetRequiredService<RollupRunner>(), sp.GetRequiredService<ReportService>(),
            sp.GetRequiredService<IAlertStore>(), sp.GetRequiredService<LlmCost.Core.Audit.AuditTrail>(), sp.GetServices<IUserDataHolder>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetService<IUsageIngestMaintenance>()));
        services.TryAddSingleton<LlmCost.Core.Audit.AuditTrail>();
        services.TryAddSingleton<ArchivedUsage>();
        services.TryAddSingleton<AlertAdminService>();
        services.TryAddSingleton<AlertFeed>();
        services.TryAddSingleton<RollupQueryService>();

        services.AddBackgroundFunction<RollupsFunction>();
        services.AddBackgroundFunction<AnomaliesFunction>();
        services.AddBackgroundFunction<ForecastsFunction>();
        services.AddBackgroundFunction<AlertDispatchFunction>();
        services.AddBackgroundFunction<AlertFanOutFunction>();
        services.AddBackgroundFunction<ReportsFunction>();
        services.AddBackgroundFunction<RetentionFunction>();
        return services;
    }

    public static IEndpointRouteBuilder MapOperationsModule(this IEndpointRouteBuilder endpoints)
    {
        return endpoints.MapOperationsApi();
    }
}
