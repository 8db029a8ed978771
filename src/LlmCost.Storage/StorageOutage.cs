using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Polly;
using Polly.CircuitBreaker;

namespace LlmCost.Storage;

/// <summary>
/// Telling an unreachable or failing storage account apart from everything else, and failing fast while it lasts.
/// The host maps <see cref="IsOutage"/> to 503 with Retry-After; every other exception stays a bug (500).
/// </summary>
public static class StorageOutage
{
    /// <summary>Seconds a client should wait before retrying after an outage answer.</summary>
    public const int RetryAfterSeconds = 5;

    /// <summary>
    /// True when <paramref name="exception"/> means storage could not answer: transport failures (refused,
    /// reset, DNS, timeouts), 408/429/5xx after the SDK's retries, the outage breaker being open, or contention that
    /// outlasted every optimistic retry. Not for client aborts: callers check their own token first.
    /// </summary>
    public static bool IsOutage(Exception exception) => exception switch
    {
        null => false,
        BrokenCircuitException => true,
        StorageContentionException => true,
        RequestFailedException failed => IsOutageStatus(failed.Status),
        AggregateException aggregate => aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(IsOutage),
        HttpRequestException or IOException or TimeoutException or System.Net.Sockets.SocketException => true,
        // The SDK reports its own NetworkTimeout as a cancellation that the caller did not ask for.
        OperationCanceledException => true,
        _ => false,
    };

    private static bool IsOutageStatus(int status) => status is 0 or 408 or 429 or 500 or 502 or 503 or 504;

    /// <summary>Client options for the account: bounded timeouts and retries, plus the shared outage breaker.</summary>
    internal static T Configure<T>(T options, LlmCostStorageOptions settings, HttpPipelinePolicy breaker)
        where T : ClientOptions
    {
        options.Retry.NetworkTimeout = settings.WriteTimeout;
        options.RetryPolicy = new StorageRetryPolicy(settings.MaxRetries, DelayStrategy.CreateExponentialDelayStrategy(settings.RetryDelay, settings.MaxRetryDelay));
        options.AddPolicy(breaker, HttpPipelinePosition.PerCall);
        return options;
    }

    /// <summary>Reads are safe to repeat; a write is anything else.</summary>
    internal static bool IsRead(RequestMethod method) => method == RequestMethod.Get || method == RequestMethod.Head;

    internal static (TableClientOptions Tables, QueueClientOptions Queues, BlobClientOptions Blobs) ClientOptions(LlmCostStorageOptions settings)
    {
        var breaker = new OutageBreakerPolicy(settings.OutageBreakDuration, settings.ReadTimeout, settings.WriteTimeout);
        return (Configure(new TableClientOptions(), settings, breaker),
            Configure(new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 }, settings, breaker),
            Configure(new BlobClientOptions(), settings, breaker));
    }
}

/// <summary>
/// A circuit breaker (Polly) around every storage call of one account, outside the SDK's own retries: when most
/// calls in the sampling window failed as outages, further calls fail at once with
/// <see cref="BrokenCircuitException"/> for the break duration, then a single probe decides. Caller cancellations
/// and ordinary answers (404, 409, 412) never count.
/// </summary>
internal sealed class OutageBreakerPolicy : HttpPipelinePolicy
{
    private readonly ResiliencePipeline<int> _pipeline;
    private readonly TimeSpan _readTimeout;
    private readonly TimeSpan _writeTimeout;

    public OutageBreakerPolicy(TimeSpan breakDuration, TimeSpan readTimeout, TimeSpan writeTimeout)
    {
        _readTimeout = readTimeout;
        _writeTimeout = writeTimeout;
        _pipeline = new ResiliencePipelineBuilder<int>()
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<int>
            {
                FailureRatio = 0.5,
                MinimumThroughput = 2,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = breakDuration < TimeSpan.FromMilliseconds(500) ? TimeSpan.FromMilliseconds(500) : breakDuration,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome switch
                {
                    { Exception: { } ex } => !args.Context.CancellationToken.IsCancellationRequested && StorageOutage.IsOutage(ex),
                    { Result: var status } => status is 503 or 504,
                }),
            })
            .Build();
    }

    public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        message.NetworkTimeout = StorageOutage.IsRead(message.Request.Method) ? _readTimeout : _writeTimeout;
        await _pipeline.ExecuteAsync(
            async (state, _) =>
            {
                await ProcessNextAsync(state.message, state.pipeline).ConfigureAwait(false);
                return state.message.Response.Status;
            },
            (message, pipeline),
            message.CancellationToken).ConfigureAwait(false);
    }

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        message.NetworkTimeout = StorageOutage.IsRead(message.Request.Method) ? _readTimeout : _writeTimeout;
        _pipeline.Execute(
            static (state, _) =>
            {
                ProcessNext(state.message, state.pipeline);
                return state.message.Response.Status;
            },
            (message, pipeline),
            message.CancellationToken);
    }
}

/// <summary>
/// The SDK's retries, except that a write that timed out is not repeated: a write that takes that long most likely
/// reached storage and may have been applied, and a blind repeat turns "done" into 409 or 404. Writes that failed on
/// the connection (refused, reset: the usual fate of a pooled connection the server had closed) are retried like reads.
/// </summary>
internal sealed class StorageRetryPolicy(int maxRetries, DelayStrategy delay) : RetryPolicy(maxRetries, delay)
{
    protected override bool ShouldRetry(HttpMessage message, Exception? exception) =>
        Allowed(message, exception) && base.ShouldRetry(message, exception);

    protected override async ValueTask<bool> ShouldRetryAsync(HttpMessage message, Exception? exception) =>
        Allowed(message, exception) && await base.ShouldRetryAsync(message, exception).ConfigureAwait(false);

    private static bool Allowed(HttpMessage message, Exception? exception) =>
        exception is not OperationCanceledException || StorageOutage.IsRead(message.Request.Method);
}
