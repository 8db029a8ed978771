using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using LlmCost.Core.Telemetry;

namespace LlmCost.Hosting;

/// <summary>The result of one invocation; failures carry the exception for logging, never for the wire.</summary>
public sealed record InvocationOutcome(bool Succeeded, TimeSpan Duration, Exception? Error)
{
    /// <summary>
    /// The message itself is unusable (malformed JSON, a wrong value): retrying cannot help, the host will poison it.
    /// Anything else (an outage, a bug) is a plain failure.
    /// </summary>
    public bool IsBadMessage => Error is JsonException or FormatException or InvalidDataException or ArgumentException;
}

/// <summary>
/// What must have happened before any background function runs (the app registers one: its functions work on
/// recorded usage, so this instance's acknowledged events must reach them first, within a bound).
/// </summary>
public interface IFunctionInvocationBarrier
{
    Task WaitAsync(CancellationToken cancellationToken = default);
}

/// <summary>Runs a background function the same way whether the Functions host or standalone mode triggered it.</summary>
public sealed class BackgroundFunctionInvoker(
    ILogger<BackgroundFunctionInvoker> logger,
    TimeProvider timeProvider,
    IFunctionInvocationBarrier? barrier = null)
{
    private static readonly Counter<long> Runs = LlmCostTelemetry.Meter.CreateCounter<long>(
        "llmcost.functions.runs", "{run}", "Background function (timer, queue) invocations, by function, trigger and outcome.");

    private static readonly Histogram<double> Duration = LlmCostTelemetry.Meter.CreateHistogram<double>(
        "llmcost.functions.duration", "ms", "Duration of background function invocations, by function and trigger.");

    public async Task<InvocationOutcome> InvokeAsync(IBackgroundFunction function, FunctionInvocation invocation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(invocation);
        string trigger = function.Definition.Trigger.ToString().ToLowerInvariant();
        using Activity? activity = LlmCostTelemetry.ActivitySource.StartActivity($"llmcost.function {invocation.FunctionName}");
        activity?.SetTag("faas.name", invocation.FunctionName);
        activity?.SetTag("faas.trigger", trigger);
        activity?.SetTag("faas.invocation_id", invocation.InvocationId);
        var started = timeProvider.GetTimestamp();
        InvocationOutcome outcome = await RunAsync(function, invocation, started, cancellationToken).ConfigureAwait(false);
        var tags = new TagList { { "function", invocation.FunctionName }, { "trigger", trigger } };
        Duration.Record(outcome.Duration.TotalMilliseconds, tags);
        tags.Add("outcome", outcome.Succeeded ? "ok" : "failed");
        Runs.Add(1, tags);
        if (!outcome.Succeeded)
        {
            activity?.SetStatus(ActivityStatusCode.Error, outcome.Error?.GetType().Name);
        }

        return outcome;
    }

    private async Task<InvocationOutcome> RunAsync(IBackgroundFunction function, FunctionInvocation invocation, long started, CancellationToken cancellationToken)
    {
        CustomHandlerLog.Invoking(logger, invocation.FunctionName, invocation.InvocationId, invocation.DequeueCount, invocation.IsPastDue);
        try
        {
            if (barrier is not null)
            {
                await barrier.WaitAsync(cancellationToken).ConfigureAwait(false);
            }

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
