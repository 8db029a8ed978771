using LlmCost.Core.Alerts;
using LlmCost.Core.Anomalies;
using LlmCost.Core.Forecasting;
using LlmCost.Core.Reports;
using LlmCost.Core.Retention;
using LlmCost.Core.Rollups;
using LlmCost.Storage;
using LlmCost.Storage.Operations;

namespace LlmCost.Functions.Apis.Operations;

// Functions resolve their services when invoked, not when constructed: the function catalog (function.json
// generation, the host's function list) builds every function without touching storage.

/// <summary>Rollups every 5 minutes: recompute the tenant-days whose events were written since the last run (late events included).</summary>
public sealed partial class RollupsFunction(IServiceProvider services, ILogger<RollupsFunction> logger) : IBackgroundFunction
{
    public FunctionDefinition Definition { get; } = FunctionDefinition.Timer("OpsRollups", "0 */5 * * * *", runAtStandaloneStart: true);

    public async Task InvokeAsync(FunctionInvocation invocation, CancellationToken cancellationToken = default)
    {
        var result = await services.GetRequiredService<RollupRunner>().RunAsync(cancellationToken).ConfigureAwait(false);
        LogRun(logger, result.DaysRecomputed, result.MonthsRecomputed);
    }

    [LoggerMessage(EventId = 6200, Level = LogLevel.Information, Message = "Rollups: {Days} tenant-days and {Months} tenant-months recomputed")]
    private static partial void LogRun(ILogger logger, int days, int months);
}

/// <summary>Anomaly scan every 15 minutes (after the rollups): this hour's and today's cost/tokens, error rates, unpriced models.</summary>
public sealed partial class AnomaliesFunction(IServiceProvider services, ILogger<AnomaliesFunction> logger)
    : IBackgroundFunction
{
    public FunctionDefinition Definition { get; } = FunctionDefinition.Timer("OpsAnomalies", "0 2,17,32,47 * * * *");

    public async Task InvokeAsync(FunctionInvocation invocation, CancellationToken cancellationToken = default)
    {
        var tenants = await services.GetRequiredService<IRollupStore>().ListTenantsAsync(cancellationToken).ConfigureAwait(false);
        var result = await services.GetRequiredService<AnomalyScanner>().ScanAsync(tenants, cancellationToken).ConfigureAwait(false);
        await services.GetRequiredService<IAlertPublisher>().PublishAsync(result.Alerts, cancellationToken).ConfigureAwait(false);
        LogRun(logger, result.TenantsScanned, result.Alerts.Count);
    }

    [LoggerMessage(EventId = 6201, Level = LogLevel.Information, Message = "Anomalies: {Tenants} tenants scanned, {Alerts} alerts raised (re-raised ones are de-duplicated)")]
    private static partial void LogRun(ILogger logger, int tenants, int alerts);
}

/// <summary>Budget projections hourly: "projected to exceed" alerts from <see cref="SpendForecaster"/>.</summary>
public sealed partial class ForecastsFunction(IServiceProvider services, ILogger<ForecastsFunction> logger)
    : IBackgroundFunction
{
    public FunctionDefinition Definition { get; } = FunctionDefinition.Timer("OpsForecasts", "0 10 * * * *");

    public async Task InvokeAsync(FunctionInvocation invocation, CancellationToken cancellationToken = default)
    {
        var alerter = services.GetRequiredService<ProjectionAlerter>();
        var alerts = new List<Alert>();
        var budgets = 0;
        foreach (var source in services.GetServices<IBudgetForecastSource>())
        {
            foreach (var budget in await source.ListActiveAsync(cancellationToken).ConfigureAwait(false))
            {
                budgets++;
                if (alerter.Evaluate(budget) is { } alert)
                {
                    alerts.Add(alert);
                }
            }
        }

        await services.GetRequiredService<IAlertPublisher>().PublishAsync(alerts, cancellationToken).ConfigureAwait(false);
        LogRun(logger, budgets, alerts.Count);
    }

    [LoggerMessage(EventId = 6202, Level = LogLevel.Information, Message = "Forecasts: {Budgets} budgets forecast, {Alerts} projected to exceed")]
    private static partial void LogRun(ILogger logger, int budgets, int alerts);
}

/// <summary>The outbox sweep every minute: alerts stored but not yet queued (ours after a crash, and other modules' outboxes) go on the queue.</summary>
public sealed partial class AlertDispatchFunction(IServiceProvider services, ILogger<AlertDispatchFunction> logger) : IBackgroundFunction
{
    public FunctionDefinition Definition { get; } = FunctionDefinition.Timer("OpsAlertDispatch", "0 * * * * *");

    public async Task InvokeAsync(FunctionInvocation invocation, CancellationToken cancellationToken = default)
    {
        var count = await services.GetRequiredService<AlertPublisher>().DispatchPendingAsync(services.GetServices<IAlertOutboxSource>(), cancellationToken: cancellationToken).ConfigureAwait(false);
        if (count > 0)
        {
            LogRun(logger, count);
        }
    }

    [LoggerMessage(EventId = 6203, Level = LogLevel.Information, Message = "Alert dispatch: {Count} alerts queued")]
    private static partial void LogRun(ILogger logger, int count);
}

/// <summary>
/// The alert queue's consumer: fans one alert out to its subscriptions. Throws when any delivery failed, so the
/// runner retries the message and moves it to "{queue}-poison" after the 5th attempt (the alert is then "failed").
/// </summary>
public sealed partial class AlertFanOutFunction(IServiceProvider services, ILogger<AlertFanOutFunction> logger) : IBackgroundFunction
{
    public FunctionDefinition Definition { get; } = FunctionDefinition.StorageQueueTriggered("OpsAlertFanOut", OperationsStorage.AlertQueue);

    public async Task InvokeAsync(FunctionInvocation invocation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(invocation);
        if (!StorageAlertQueue.TryParse(invocation.QueueMessage, out var tenantId, out var alertId))
        {
            // A message we cannot read will never become readable: fail it so it ends, visibly, in the poison queue.
            throw new InvalidOperationException("alert queue message is not {\"tenant_id\",\"alert_id\"} JSON");
        }

        var result = await services.GetRequiredService<AlertFanOut>().HandleAsync(tenantId, alertId, Math.Max(1, invocation.DequeueCount), cancellationToken).ConfigureAwait(false);
        LogDone(logger, alertId, result.Status, result.Delivered, result.Skipped);
    }

    [LoggerMessage(EventId = 6204, Level = LogLevel.Information, Message = "Alert {AlertId}: {Status} ({Delivered} delivered, {Skipped} already delivered)")]
    private static partial void LogDone(ILogger logger, string alertId, string status, int delivered, int skipped);
}

/// <summary>Reports at 00:30 UTC: yesterday's daily report per tenant, and on the 1st last month's monthly report.</summary>
public sealed partial class ReportsFunction(IServiceProvider services, TimeProvider timeProvider, ILogger<ReportsFunction> logger) : IBackgroundFunction
{
    public FunctionDefinition Definition { get; } = FunctionDefinition.Timer("OpsReports", "0 30 0 * * *");

    public async Task InvokeAsync(FunctionInvocation invocation, CancellationToken cancellationToken = default)
    {
        var yesterday = DateOnly.FromDateTime(timeProvider.GetUtcNow().UtcDateTime).AddDays(-1);
        var reports = services.GetRequiredService<ReportService>();
        var count = 0;
        foreach (var tenant in await services.GetRequiredService<IRollupStore>().ListTenantsAsync(cancellationToken).ConfigureAwait(false))
        {
            await reports.GenerateAsync(new ReportRequest(tenant, ReportPeriod.Day, yesterday), cancellationToken).ConfigureAwait(false);
            count++;
            if (yesterday.AddDays(1).Day == 1)
            {
                await reports.GenerateAsync(new ReportRequest(tenant, ReportPeriod.Month, yesterday), cancellationToken).ConfigureAwait(false);
                count++;
            }
        }

        LogRun(logger, count);
    }

    [LoggerMessage(EventId = 6205, Level = LogLevel.Information, Message = "Reports: {Count} written")]
    private static partial void LogRun(ILogger logger, int count);
}

/// <summary>Retention at 02:15 UTC: archive raw events past retention to blob (gzip JSON lines), then delete them.</summary>
public sealed partial class RetentionFunction(IServiceProvider services, ILogger<RetentionFunction> logger) : IBackgroundFunction
{
    public FunctionDefinition Definition { get; } = FunctionDefinition.Timer("OpsRetention", "0 15 2 * * *");

    public async Task InvokeAsync(FunctionInvocation invocation, CancellationToken cancellationToken = default)
    {
        var result = await services.GetRequiredService<RetentionRunner>().RunAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        LogRun(logger, result.DaysArchived, result.EventsDeleted);
    }

    [LoggerMessage(EventId = 6206, Level = LogLevel.Information, Message = "Retention: {Days} tenant-days archived, {Events} events deleted")]
    private static partial void LogRun(ILogger logger, int days, int events);
}
