namespace LlmCost.Client;

/// <summary>The LlmCost service API. <see cref="LlmCostClient"/> is the implementation; the interface lets apps
/// substitute it in their own tests.</summary>
public interface ILlmCostClient
{
    /// <summary>Records one event now (retried; the event id is generated once when absent and reused on retries).</summary>
    Task<RecordResult> RecordAsync(UsageEvent usageEvent, CancellationToken cancellationToken = default);

    /// <summary>Records many events now, in batches of at most 500; events the service refuses are reported per event, the rest recorded.</summary>
    Task<RecordBatchResult> RecordBatchAsync(IReadOnlyList<UsageEvent> events, RecordBatchOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Buffers an event for a background batch; never blocks and never throws for an outage.
    /// False when the buffer is full (the event is dropped and counted).</summary>
    bool Enqueue(UsageEvent usageEvent);

    /// <summary>Waits until every event enqueued before this call has been sent (or given up).</summary>
    Task FlushAsync(CancellationToken cancellationToken = default);

    Task<PriceQuote> PriceAsync(PriceRequest request, CancellationToken cancellationToken = default);

    /// <summary>Pre-call authorisation. A denial is an answer (<see cref="AuthorizeResponse.Outcome"/>), not an exception.</summary>
    Task<AuthorizeResponse> AuthorizeAsync(AuthorizeRequest request, CancellationToken cancellationToken = default);

    /// <summary>Gives a reservation back without usage (the call was not made or was abandoned before any usage was known).</summary>
    Task<ReleaseOutcome> ReleaseAsync(string reservationId, string userId, string? tenantId = null, CancellationToken cancellationToken = default);

    Task<UsageReport> GetUserUsageAsync(string userId, UsageQuery? query = null, CancellationToken cancellationToken = default);

    Task<UsageReport> GetTeamUsageAsync(string teamId, UsageQuery? query = null, CancellationToken cancellationToken = default);

    Task<UsageReport> GetTenantUsageAsync(string tenantId, UsageQuery? query = null, CancellationToken cancellationToken = default);

    /// <summary>A user's stored events in <c>[from, to)</c>, following the service's pages.</summary>
    IAsyncEnumerable<RecordedEvent> ListUserEventsAsync(string userId, EventsQuery? query = null, CancellationToken cancellationToken = default);

    Task<BudgetStatus> GetBudgetStatusAsync(string budgetId, string? userId = null, CancellationToken cancellationToken = default);
}

/// <summary>Options of one <see cref="ILlmCostClient.RecordBatchAsync"/> call.</summary>
public sealed record RecordBatchOptions
{
    /// <summary>
    /// Marks the request as an import of history (admin keys only): the service accepts timestamps older than its
    /// normal ingest window, up to its import window.
    /// </summary>
    public bool Import { get; init; }
}

/// <summary>What happened to each event of a batch, in the order given.</summary>
public sealed record RecordBatchResult(IReadOnlyList<EventOutcome> Events)
{
    public int Recorded => Events.Count(e => e.Status == EventStatus.Recorded);

    public int Duplicates => Events.Count(e => e.Status == EventStatus.Duplicate);

    public int Rejected => Events.Count(e => e.Status == EventStatus.Rejected);

    /// <summary>Cost of the events recorded by this call (duplicates were counted before and are not included).</summary>
    public decimal RecordedCostUsd => Events.Where(e => e.Status == EventStatus.Recorded).Sum(e => e.Result?.CostUsd ?? 0m);
}

public enum EventStatus
{
    Recorded,
    Duplicate,
    Rejected,
}

/// <param name="Event">The event as sent (with its event id).</param>
/// <param name="Status">Recorded now, already recorded before, or refused.</param>
/// <param name="Result">The service's answer (null when rejected).</param>
/// <param name="Errors">Why the service rejected it (field and message).</param>
public sealed record EventOutcome(UsageEvent Event, EventStatus Status, RecordResult? Result, IReadOnlyList<string> Errors);

/// <summary>Counters of one client since it was created.</summary>
public sealed record LlmCostClientStatistics
{
    public long Enqueued { get; init; }
    public long Buffered { get; init; }
    public long Recorded { get; init; }
    public long Duplicates { get; init; }
    public long DroppedBufferFull { get; init; }
    public long DroppedRejected { get; init; }
    public long DroppedShutdown { get; init; }

    /// <summary>Batch sends that failed for an outage (the batch was kept and retried).</summary>
    public long FailedSends { get; init; }

    public string? LastFailure { get; init; }
}
