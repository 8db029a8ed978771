using LlmCost.Core.Alerts;
using LlmCost.Core.Audit;

namespace LlmCost.Core.Budgets;

/// <summary>
/// Budget definitions and the audit log. A definition change and its audit line are written in one transaction,
/// so the log never misses a change and never records one that did not happen.
/// </summary>
public interface IBudgetRepository
{
    Task<BudgetDefinition?> GetAsync(string budgetId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<BudgetDefinition>> ListAsync(string tenantId, CancellationToken cancellationToken = default);

    /// <summary>Creates (expected absent) or replaces (expected present) a definition with its audit line; false on a concurrent change.</summary>
    Task<bool> SaveAsync(BudgetDefinition budget, AuditEntry audit, bool create, CancellationToken cancellationToken = default);

    /// <summary>Deletes a definition with its audit line; false when it did not exist.</summary>
    Task<bool> DeleteAsync(BudgetDefinition budget, AuditEntry audit, CancellationToken cancellationToken = default);

    /// <summary>Audit lines of a tenant, newest first.</summary>
    Task<IReadOnlyList<AuditEntry>> ListAuditAsync(string tenantId, int max, CancellationToken cancellationToken = default);
}

/// <summary>
/// One tenant's budget ledger (period states and lanes, reservations, freezes, fired alerts, applied events).
/// <see cref="ExecuteAsync"/> applies a command atomically with ETag optimistic concurrency: whichever instance
/// writes first wins, the others re-read and re-apply, a bounded number of times; a write that cannot complete
/// (storage unreachable, sustained contention, a storage limit) throws <see cref="BudgetUnavailableException"/>.
/// </summary>
public interface IBudgetLedger
{
    Task ExecuteAsync(LedgerCommand command, CancellationToken cancellationToken = default);

    /// <summary>Reads rows from storage (status, admin views, admission checks); nothing is changed.</summary>
    Task<LedgerPartition> ReadAsync(string tenantId, IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default);

    /// <summary>Tenants that have (or had) open reservations: the expiry sweep's work list.</summary>
    Task<IReadOnlyList<string>> ListReservationTenantsAsync(CancellationToken cancellationToken = default);

    /// <summary>Ids of open reservations of a tenant whose expiry is at or before <paramref name="now"/>, soonest first.</summary>
    Task<IReadOnlyList<string>> ListDueReservationsAsync(string tenantId, DateTimeOffset now, int max, CancellationToken cancellationToken = default);

    /// <summary>Freezes in force for a tenant.</summary>
    Task<IReadOnlyList<FreezeRecord>> ListFreezesAsync(string tenantId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes rows that can no longer matter: applied-event markers of events applied before
    /// <paramref name="markersAppliedBefore"/> and closed reservations created before <paramref name="reservationsCreatedBefore"/>
    /// (their expiry index is gone with them). At most <paramref name="max"/> rows; returns how many were deleted.
    /// </summary>
    Task<int> PruneAsync(string tenantId, DateTimeOffset markersAppliedBefore, DateTimeOffset reservationsCreatedBefore, int max, CancellationToken cancellationToken = default);

    /// <summary>Ids of a user's reservations (open or closed) that are still kept.</summary>
    Task<IReadOnlyList<ReservationRecord>> ListUserReservationsAsync(string tenantId, string userId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes what the ledger holds about one user: their own period states and lanes (user budgets and
    /// every-user budgets), their freezes, their closed reservations and the pending alerts about them. Open
    /// reservations must be released first (they are held in shared lanes). Returns the rows deleted by kind.
    /// </summary>
    Task<IReadOnlyDictionary<string, int>> DeleteUserRowsAsync(string tenantId, string userId, CancellationToken cancellationToken = default);
}

/// <summary>
/// Spend already recorded for a budget's subject in the elapsed part of a period, read from the usage summaries
/// (hour buckets): where a budget created mid-period starts from.
/// </summary>
public interface IBudgetSpendHistory
{
    /// <summary>
    /// Recorded spend of <paramref name="scope"/>/<paramref name="subject"/> in the UTC hours overlapping
    /// [<paramref name="from"/>, now]. <see cref="RecordedSpend.Cutoff"/> is when the read started.
    /// </summary>
    Task<RecordedSpend> ReadAsync(string tenantId, BudgetScope scope, string subject, DateTimeOffset from, CancellationToken cancellationToken = default);

    /// <summary>
    /// Recorded spend of <paramref name="scope"/>/<paramref name="subject"/> on each UTC day from
    /// <paramref name="fromDay"/> to <paramref name="toDay"/> (inclusive): what the forecaster learns from. Days
    /// without usage may be absent; a scope the summaries do not keep (an API key) has none.
    /// </summary>
    Task<IReadOnlyList<RecordedDay>> ReadDailyAsync(string tenantId, BudgetScope scope, string subject, DateOnly fromDay, DateOnly toDay, CancellationToken cancellationToken = default);
}

/// <summary>A scope's recorded spend on one UTC day, in both budget units.</summary>
public readonly record struct RecordedDay(DateOnly Day, decimal CostUsd, long Tokens);

/// <summary>What the budgets module keeps about one user, for GDPR erasure.</summary>
public interface IBudgetUserData
{
    /// <summary>
    /// Releases the user's open reservations and deletes their per-user budget state (period states, lanes,
    /// reservations, freezes, pending alerts, and budgets scoped to the user alone). Tenant and team totals keep
    /// the user's past spend as anonymous sums. Idempotent.
    /// </summary>
    Task<BudgetUserErasure> ForgetUserAsync(string tenantId, string userId, CancellationToken cancellationToken = default);
}

/// <summary>What an erasure removed, by kind (states, lanes, reservations, freezes, alerts, budgets).</summary>
public sealed record BudgetUserErasure(int ReleasedReservations, IReadOnlyDictionary<string, int> DeletedRows);

/// <summary>
/// The budget store could not complete a write or read that is not a decision: storage unreachable, contention
/// beyond the retry bound, or a storage limit reached. The host answers 503 with Retry-After; the caller retries.
/// </summary>
public sealed class BudgetUnavailableException : Exception
{
    public BudgetUnavailableException()
    {
    }

    public BudgetUnavailableException(string message)
        : base(message)
    {
    }

    public BudgetUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>How long the caller should wait before retrying.</summary>
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Alerts recorded by the budget ledger (atomically with the spend that crossed them) and not yet handed to the
/// alert pipeline. The dispatcher lists them, publishes them (idempotent per AlertId), then marks them
/// dispatched; a crash in between re-publishes the same ids (at-least-once, receivers de-duplicate).
/// </summary>
public interface IPendingAlertSource
{
    /// <summary>Recorded, not yet dispatched, oldest first; <paramref name="tenantId"/> null = every tenant.</summary>
    Task<IReadOnlyList<Alert>> ListPendingAsync(string? tenantId, int max, CancellationToken cancellationToken = default);

    Task MarkDispatchedAsync(IReadOnlyList<Alert> alerts, CancellationToken cancellationToken = default);
}

/// <summary>Prices the worst case of a request before it is made.</summary>
public interface IBudgetCostEstimator
{
    WorstCase Estimate(string tenantId, string provider, string model, long inputTokens, long maxOutputTokens, DateTimeOffset at);
}

/// <summary>Models an adaptive budget may suggest instead of the requested one.</summary>
public interface IDowngradeCatalog
{
    /// <summary>Candidate (provider, model) pairs; the service prices them, keeps the cheaper ones and orders them.</summary>
    IReadOnlyList<(string Provider, string Model)> Candidates(string provider, string model);

    /// <summary>For one call of known size and tenant (its window, output limit and allow-list can then be checked); by default the size-free list.</summary>
    IReadOnlyList<(string Provider, string Model)> Candidates(string provider, string model, long inputTokens, long maxOutputTokens, string tenantId) =>
        Candidates(provider, model);
}

/// <summary>Counts the input tokens of a prompt or chat messages when the caller did not send a count.</summary>
public interface IPromptTokenCounter
{
    long Count(string provider, string model, string? prompt, IReadOnlyList<PromptMessage>? messages);
}

/// <summary>One chat message as the caller sent it; the authorisation refuses a message without role or content before counting.</summary>
public sealed record PromptMessage(string? Role, string? Content);
