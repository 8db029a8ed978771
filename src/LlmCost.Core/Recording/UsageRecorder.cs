using LlmCost.Core.Pricing;

namespace LlmCost.Core.Recording;

/// <summary>The result of recording a batch: one outcome per submitted event, in order.</summary>
/// <param name="Rejected">Problems found by the admission checks; when any, nothing was recorded and Outcomes is empty.</param>
public sealed record RecordBatchResult(IReadOnlyList<RecordOutcome> Outcomes, IReadOnlyList<AdmissionProblem>? Rejected = null);

/// <summary>
/// Validates, prices and records submissions exactly once through <see cref="IUsageEventStore"/>. An unknown model
/// or missing price is recorded as unpriced with its reason, never as a silent $0. The
/// <see cref="IUsageRecordedObserver"/>s hear about the new events from the store's projector, durably and off the
/// request (a client that gives up cannot make them miss an event).
/// </summary>
public sealed class UsageRecorder(
    IPriceCalculator pricer,
    IUsageEventStore store,
    TimeProvider time,
    IEnumerable<IUsageAdmissionCheck>? admissionChecks = null,
    IEnumerable<IUsageAcknowledgedObserver>? acknowledgedObservers = null)
{
    private readonly IUsageAdmissionCheck[] _admissionChecks = admissionChecks?.ToArray() ?? [];
    private readonly IUsageAcknowledgedObserver[] _acknowledgedObservers = acknowledgedObservers?.ToArray() ?? [];

    /// <summary>Prices one submission with fresh terms (POST /api/price, which records nothing).</summary>
    public async Task<PriceQuote> QuoteAsync(UsageSubmission submission, string? tenantId, DateTimeOffset timestamp, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(submission);
        await pricer.PrepareAsync(tenantId, timestamp, cancellationToken).ConfigureAwait(false);
        return Quote(submission, tenantId, timestamp);
    }

    /// <summary>Prices one submission with the terms already loaded.</summary>
    public PriceQuote Quote(UsageSubmission submission, string? tenantId, DateTimeOffset timestamp)
    {
        ArgumentNullException.ThrowIfNull(submission);
        return pricer.Price(new PriceRequest(submission.Provider, submission.Model, timestamp, submission.Usage, tenantId));
    }

    /// <summary>Builds the priced event for a submission whose tenant is already resolved.</summary>
    public UsageEvent ToEvent(UsageSubmission submission, string tenantId, DateTimeOffset receivedAt)
    {
        ArgumentNullException.ThrowIfNull(submission);
        DateTimeOffset timestamp = (submission.Timestamp ?? receivedAt).ToUniversalTime();
        PriceQuote quote = Quote(submission, tenantId, timestamp);
        return new UsageEvent
        {
            EventId = submission.EventId ?? NewEventId(),
            EventIdGenerated = submission.EventId is null,
            TenantId = tenantId,
            UserId = submission.UserId,
            TeamId = submission.TeamId,
            App = submission.App,
            Provider = submission.Provider ?? quote.ProviderId ?? "unknown",
            Model = submission.Model,
            Timestamp = timestamp,
            Usage = submission.Usage,
            LatencyMs = submission.LatencyMs,
            Status = submission.Status,
            Tags = submission.Tags,
            ReservationId = submission.ReservationId,
            ReportedCostUsd = submission.ReportedCostUsd,
            KeyId = submission.KeyId,
            RecordedAt = receivedAt,
        }.PricedBy(quote);
    }

    /// <summary>Records submissions whose <see cref="UsageSubmission.TenantId"/> the caller has already resolved and authorised.</summary>
    public async Task<RecordBatchResult> RecordAsync(
        IReadOnlyList<UsageSubmission> submissions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(submissions);
        DateTimeOffset receivedAt = time.GetUtcNow();
        // Policies and month-to-date figures are read once per (tenant, month) of the batch, then priced from memory.
        foreach (var group in submissions
            .Select(s => (s.TenantId, At: (s.Timestamp ?? receivedAt).ToUniversalTime()))
            .GroupBy(s => (s.TenantId, Month(s.At))))
        {
            await pricer.PrepareAsync(group.Key.TenantId, group.Max(s => s.At), cancellationToken).ConfigureAwait(false);
        }

        UsageEvent[] events = submissions
            .Select(s => ToEvent(s, s.TenantId ?? throw new ArgumentException("every submission needs its resolved tenant", nameof(submissions)), receivedAt))
            .ToArray();
        foreach (IUsageAdmissionCheck check in _admissionChecks)
        {
            IReadOnlyList<AdmissionProblem> problems = await check.CheckAsync(events, cancellationToken).ConfigureAwait(false);
            if (problems.Count > 0)
            {
                return new RecordBatchResult([], problems);
            }
        }

        IReadOnlyList<RecordOutcome> outcomes = await store.RecordAsync(events, cancellationToken).ConfigureAwait(false);
        var byId = new Dictionary<string, UsageEvent>(StringComparer.Ordinal);
        foreach (UsageEvent e in events)
        {
            byId.TryAdd(e.EventId, e);
        }

        List<RecordOutcome> result = outcomes
            .Select(o => !o.Duplicate && byId.TryGetValue(o.EventId, out UsageEvent? e) ? o with { Recorded = e } : o)
            .ToList();
        if (_acknowledgedObservers.Length > 0)
        {
            List<UsageEvent> acknowledged = result.Where(o => o.Recorded is not null).Select(o => o.Recorded!).ToList();
            foreach (IUsageAcknowledgedObserver observer in _acknowledgedObservers)
            {
                observer.OnAcknowledged(acknowledged);
            }
        }

        return new RecordBatchResult(result);
    }

    private static DateTimeOffset Month(DateTimeOffset at) => new(at.Year, at.Month, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Time-ordered (UUID v7), so generated ids sort roughly by arrival.</summary>
    private static string NewEventId() => Guid.CreateVersion7().ToString("N");
}
