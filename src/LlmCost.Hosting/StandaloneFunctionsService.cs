using LlmCost.Hosting.AzureStorage;
using Microsoft.Extensions.Options;

namespace LlmCost.Hosting;

/// <summary>
/// Standalone mode (no Functions host): runs every registered timer and queue function from its definition (compiled,
/// or read from LlmCost:Hosting:FunctionsDirectory) with its bindings resolved as the host would resolve them, against
/// the same storage the host would use. Registered only when the app is not started by the Functions host.
/// </summary>
internal sealed class StandaloneFunctionsService(
    FunctionBindings bindings,
    IServiceProvider services,
    BackgroundFunctionInvoker invoker,
    TimeProvider timeProvider,
    IOptions<CustomHandlerOptions> options,
    ILoggerFactory loggerFactory) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var logger = loggerFactory.CreateLogger<StandaloneFunctionsService>();
        List<BoundFunction> timers;
        List<BoundFunction> queues;
        IFunctionLeaseStore leases;
        ITriggerQueueFactory queueFactory;
        try
        {
            // Bound as the host would bind them: a function whose binding cannot be resolved does not run (the
            // configuration problem is logged and reported by /api/health), the others do.
            timers = bindings.Functions.Where(f => f.Definition.Trigger == TriggerKind.Timer).ToList();
            queues = bindings.Functions.Where(f => f.Definition.Trigger == TriggerKind.Queue).ToList();
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
            var scheduler = new TimerFunctionScheduler(Bound(timer), leases, invoker, timeProvider, settings.TimerLeaseDuration, logger);
            runs.Add(Task.Run(() => scheduler.RunAsync(stoppingToken), stoppingToken));
        }

        foreach (var queue in queues)
        {
            var poller = new QueueFunctionPoller(Bound(queue), queueFactory.GetQueue(queue.QueueName!), invoker, timeProvider, settings, logger);
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

    /// <summary>The function with the definition it is triggered by (which may come from a function.json file).</summary>
    private static IBackgroundFunction Bound(BoundFunction bound) =>
        ReferenceEquals(bound.Definition, bound.Function.Definition) ? bound.Function : new Rebound(bound.Function, bound.Definition);

    private sealed class Rebound(IBackgroundFunction inner, FunctionDefinition definition) : IBackgroundFunction
    {
        public FunctionDefinition Definition { get; } = definition;

        public Task InvokeAsync(FunctionInvocation invocation, CancellationToken cancellationToken = default) =>
            inner.InvokeAsync(invocation, cancellationToken);
    }
}
