using System.Text.Json;

namespace LlmCost.Functions.Hosting;

/// <summary>The result of one invocation; failures carry the exception for logging, never for the wire.</summary>
public sealed record InvocationOutcome(bool Succeeded, TimeSpan Duration, Exception? Error)
{
    /// <summary>
    /// The message itself is unusable (malformed JSON, a wrong value): retrying cannot help, the host will poison it.
    /// Anything else (an outage, a bug) is a plain failure.
    /// </summary>
    public bool IsBadMessage => Error is JsonException or FormatException or InvalidDataException or ArgumentException;
}

/// <summary>Runs a background function the same way whether the Functions host or standalone mode triggered it.</summary>
public sealed class BackgroundFunctionInvoker(ILogger<BackgroundFunctionInvoker> logger, TimeProvider timeProvider)
{
    public async Task<InvocationOutcome> InvokeAsync(IBackgroundFunction function, FunctionInvocation invocation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(invocation);
        var started = timeProvider.GetTimestamp();
        CustomHandlerLog.Invoking(logger, invocation.FunctionName, invocation.InvocationId, invocation.DequeueCount, invocation.IsPastDue);
        try
        {
            await function.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
            var elapsed = timeProvider.GetElapsedTime(started);
            CustomHandlerLog.Invoked(logger, invocation.FunctionName, invocation.InvocationId, elapsed.TotalMilliseconds);
            return new InvocationOutcome(true, elapsed, null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            var elapsed = timeProvider.GetElapsedTime(started);
            CustomHandlerLog.InvocationFailed(logger, ex, invocation.FunctionName, invocation.InvocationId, invocation.DequeueCount);
            return new InvocationOutcome(false, elapsed, ex);
        }
    }
}
