using LlmCost.Hosting.AzureStorage;

namespace LlmCost.Hosting;

/// <summary>
/// Standalone mode's queue trigger for one function, with the host's semantics: receive up to 16 messages hidden
/// from other instances while they are processed; delete on success; on failure make the message visible again
/// after the visibility timeout (host.json's queues.visibilityTimeout), and once it has been dequeued
/// maxDequeueCount (5) times move it to "{queue}-poison". Empty polls back off exponentially up to a maximum.
/// </summary>
public sealed class QueueFunctionPoller
{
    private static readonly TimeSpan MinPollingInterval = TimeSpan.FromMilliseconds(100);

    private readonly IBackgroundFunction _function;
    private readonly ITriggerQueue _queue;
    private readonly BackgroundFunctionInvoker _invoker;
    private readonly TimeProvider _timeProvider;
    private readonly CustomHandlerOptions _options;
    private readonly ILogger _logger;

    public QueueFunctionPoller(
        IBackgroundFunction function,
        ITriggerQueue queue,
        BackgroundFunctionInvoker invoker,
        TimeProvider timeProvider,
        CustomHandlerOptions options,
        ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(function);
        if (function.Definition.Trigger != TriggerKind.Queue)
        {
            throw new ArgumentException($"{function.Definition.Name} is not a queue function.", nameof(function));
        }

        _function = function;
        _queue = queue;
        _invoker = invoker;
        _timeProvider = timeProvider;
        _options = options;
        _logger = logger;
    }

    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        var delay = MinPollingInterval;
        var created = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (!created)
                {
                    await _queue.EnsureExistsAsync(cancellationToken).ConfigureAwait(false);
                    created = true;
                }

                var messages = await _queue.ReceiveAsync(FunctionsHostSettings.QueueBatchSize, _options.QueueProcessingVisibility, cancellationToken).ConfigureAwait(false);
                if (messages.Count > 0)
                {
                    delay = MinPollingInterval;
                    await Task.WhenAll(messages.Select(m => ProcessAsync(m, cancellationToken))).ConfigureAwait(false);
                    continue;
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                CustomHandlerLog.QueueStorageError(_logger, ex, _queue.Name);
            }

            try
            {
                await Task.Delay(delay, _timeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, Math.Max(_options.QueueMaxPollingInterval.Ticks, MinPollingInterval.Ticks)));
        }
    }

    /// <summary>One message: exactly what the host does with a queue-trigger invocation's result.</summary>
    public async Task ProcessAsync(TriggerQueueMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var invocation = new FunctionInvocation(_function.Definition.Name, Guid.NewGuid().ToString(), message.Text, message.DequeueCount);
        InvocationOutcome outcome;
        try
        {
            outcome = await _invoker.InvokeAsync(_function, invocation, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down mid-message: it becomes visible again after its processing visibility, like a crash.
            return;
        }

        if (outcome.Succeeded)
        {
            await _queue.DeleteAsync(message, cancellationToken).ConfigureAwait(false);
        }
        else if (message.DequeueCount >= FunctionsHostSettings.MaxDequeueCount)
        {
            await _queue.MoveToPoisonAsync(message, cancellationToken).ConfigureAwait(false);
            CustomHandlerLog.MovedToPoison(_logger, _queue.Name, message.Id, message.DequeueCount, _queue.PoisonQueueName);
        }
        else
        {
            await _queue.ReleaseAsync(message, _options.QueueVisibilityTimeout, cancellationToken).ConfigureAwait(false);
        }
    }
}
