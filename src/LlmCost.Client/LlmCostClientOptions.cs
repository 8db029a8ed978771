namespace LlmCost.Client;

/// <summary>Settings of <see cref="LlmCostClient"/> (configuration section <c>LlmCost:Client</c> by default).</summary>
public sealed class LlmCostClientOptions
{
    public const string DefaultSection = "LlmCost:Client";

    /// <summary>The service, e.g. <c>http://127.0.0.1:7071/</c> (the <c>api/...</c> paths are relative to it).</summary>
    public Uri? BaseAddress { get; set; }

    /// <summary>An ingest key (apps) or admin key (imports, tools). Sent as a bearer token; never logged.</summary>
    public string? ApiKey { get; set; }

    /// <summary>The tenant for admin keys; ingest keys imply theirs. Used when an event or request names none.</summary>
    public string? TenantId { get; set; }

    /// <summary>The app name stamped on events that name none.</summary>
    public string? App { get; set; }

    /// <summary>Timeout of one HTTP attempt. Generous on purpose: an attempt abandoned after the service committed
    /// it is answered "duplicate" on retry, but the service may not finish the work it does after the commit for a
    /// request its caller abandoned. Calls that must be quick (the middleware's authorisation) have their own bound.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Retries after the first attempt for transient failures (connection errors, 408, 429, 5xx).</summary>
    public int MaxRetryAttempts { get; set; } = 3;

    /// <summary>First retry delay; later ones grow exponentially with jitter (Retry-After is honoured).</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// When this share of calls failed within <see cref="CircuitBreakerSamplingDuration"/> (and at least
    /// <see cref="CircuitBreakerMinimumThroughput"/> calls were made), calls fail at once for
    /// <see cref="CircuitBreakerBreakDuration"/> instead of waiting for timeouts: our outage costs an app nothing.
    /// </summary>
    public double CircuitBreakerFailureRatio { get; set; } = 0.5;

    public TimeSpan CircuitBreakerSamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    public int CircuitBreakerMinimumThroughput { get; set; } = 10;

    public TimeSpan CircuitBreakerBreakDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Events waiting in memory at most; further <see cref="LlmCostClient.Enqueue"/> calls drop (and count) the event.</summary>
    public int MaxBufferedEvents { get; set; } = 10_000;

    /// <summary>Events per <c>POST /api/usage</c> batch (1-500).</summary>
    public int MaxBatchSize { get; set; } = 100;

    /// <summary>How long an enqueued event waits for a batch to fill before it is sent anyway.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest pause between attempts to send a batch while the service is down (the pause doubles from
    /// <see cref="RetryBaseDelay"/> up to this).</summary>
    public TimeSpan MaxOutageBackoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long disposing the client may spend sending what is still buffered; the rest is reported dropped.</summary>
    public TimeSpan ShutdownFlushTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Called (on a background thread, or the caller's for an overflow) whenever buffered events are given up:
    /// overflow of <see cref="MaxBufferedEvents"/>, refused by the service, or still unsent at shutdown. Keep it fast;
    /// exceptions it throws are swallowed. Counts are also on the <c>LlmCost.Client</c> meter and
    /// <see cref="LlmCostClient.Statistics"/>.
    /// </summary>
    public Action<DroppedEvents>? OnEventsDropped { get; set; }

    internal IEnumerable<string> Validate()
    {
        if (BaseAddress is null || !BaseAddress.IsAbsoluteUri || (BaseAddress.Scheme != Uri.UriSchemeHttp && BaseAddress.Scheme != Uri.UriSchemeHttps))
        {
            yield return "BaseAddress must be an absolute http(s) URI";
        }

        if (string.IsNullOrWhiteSpace(ApiKey))
        {
            yield return "ApiKey is required";
        }

        if (TenantId is not null && !LlmCostIds.IsValid(TenantId))
        {
            yield return "TenantId is not a valid id";
        }

        if (AttemptTimeout <= TimeSpan.Zero)
        {
            yield return "AttemptTimeout must be positive";
        }

        if (MaxRetryAttempts is < 0 or > 20)
        {
            yield return "MaxRetryAttempts must be 0-20";
        }

        if (RetryBaseDelay < TimeSpan.Zero)
        {
            yield return "RetryBaseDelay must not be negative";
        }

        if (CircuitBreakerFailureRatio is <= 0 or > 1)
        {
            yield return "CircuitBreakerFailureRatio must be in (0, 1]";
        }

        if (CircuitBreakerMinimumThroughput < 2 || CircuitBreakerSamplingDuration < TimeSpan.FromMilliseconds(500) || CircuitBreakerBreakDuration < TimeSpan.FromMilliseconds(500))
        {
            yield return "circuit breaker: MinimumThroughput >= 2, SamplingDuration and BreakDuration >= 0.5 s";
        }

        if (MaxBufferedEvents < 1)
        {
            yield return "MaxBufferedEvents must be at least 1";
        }

        if (MaxBatchSize is < 1 or > LlmCostClient.MaxEventsPerRequest)
        {
            yield return $"MaxBatchSize must be 1-{LlmCostClient.MaxEventsPerRequest}";
        }

        if (FlushInterval <= TimeSpan.Zero || MaxOutageBackoff <= TimeSpan.Zero || ShutdownFlushTimeout < TimeSpan.Zero)
        {
            yield return "FlushInterval and MaxOutageBackoff must be positive, ShutdownFlushTimeout not negative";
        }
    }
}

/// <summary>Why buffered events were given up.</summary>
public enum DropReason
{
    /// <summary>The buffer held <see cref="LlmCostClientOptions.MaxBufferedEvents"/> already.</summary>
    BufferFull,

    /// <summary>The service refused them (invalid event, or the key may not record them); retrying cannot help.</summary>
    Rejected,

    /// <summary>Still unsent when the client was disposed (after <see cref="LlmCostClientOptions.ShutdownFlushTimeout"/>).</summary>
    Shutdown,
}

/// <summary>Events the client gave up, with the reason (and the service's messages for rejected ones).</summary>
public sealed record DroppedEvents(DropReason Reason, IReadOnlyList<UsageEvent> Events, string? Detail);
