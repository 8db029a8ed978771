using LlmCost.Storage.Hosting;
using Microsoft.Extensions.Options;

namespace LlmCost.Functions.Hosting;

/// <summary>
/// Standalone mode (no Functions host): runs every registered timer and queue function from its definition, against
/// the same storage the host would use. Registered only when the app is not started by the Functions host.
/// </summary>
internal sealed class StandaloneFunctionsService(
    FunctionCatalog catalog,
    IServiceProvider services,
    BackgroundFunctionInvoker invoker,
    TimeProvider timeProvider,
    IOptions<CustomHandlerOptions> options,
    ILoggerFactory loggerFactory) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var logger = loggerFactory.CreateLogger<StandaloneFunctionsService>();
        List<IBackgroundFunction> timers;
        List<IBackgroundFunction> queues;
        IFunctionLeaseStore leases;
        ITriggerQueueFactory queueFactory;
        try
        {
            timers = catalog.BackgroundFunctions.Where(f => f.Definition.Trigger == TriggerKind.Timer).ToList();
            queues = catalog.BackgroundFunctions.Where(f => f.Definition.Trigger == TriggerKind.Queue).ToList();
            if (timers.Count + queues.Count == 0)
            {
                return;
            }

            leases = services.GetRequiredService<IFunctionLeaseStore>();
            queueFactory = services.GetRequiredService<ITriggerQueueFactory>();
        }
        catch (InvalidOperationException ex)
        {
            // Storage not configured, or a function whose dependencies are missing: logged as an error rather than
            // stopping the HTTP API, which works without the background functions.
            CustomHandlerLog.StandaloneUnavailable(logger, ex);
            return;
        }

        CustomHandlerLog.StandaloneStarting(logger, timers.Count, queues.Count);
        var settings = options.Value;
        var runs = new List<Task>();
        foreach (var timer in timers)
        {
            var scheduler = new TimerFunctionScheduler(timer, leases, invoker, timeProvider, settings.TimerLeaseDuration, logger);
            runs.Add(Task.Run(() => scheduler.RunAsync(stoppingToken), stoppingToken));
        }

        foreach (var queue in queues)
        {
            var poller = new QueueFunctionPoller(queue, queueFactory.GetQueue(queue.Definition.QueueName!), invoker, timeProvider, settings, logger);
            runs.Add(Task.Run(() => poller.RunAsync(stoppingToken), stoppingToken));
        }

        try
        {
            await Task.WhenAll(runs).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
