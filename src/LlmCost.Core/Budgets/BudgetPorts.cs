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
/// One tenant's budget ledger (period states, reservations, freezes, fired alerts). <see cref="ExecuteAsync"/>
/// applies a command atomically with ETag optimistic concurrency: whichever instance writes first wins, the
/// others re-read and re-apply, a bounded number of times (then an outage-like exception the host maps to 503).
/// </summary>
public interface IBudgetLedger
{
    Task ExecuteAsync(LedgerCommand command, CancellationToken cancellationToken = default);

    /// <summary>Reads rows (for status and admin views); nothing is changed.</summary>
    Task<LedgerPartition> ReadAsync(string tenantId, IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default);

    /// <summary>Active reservations whose expiry is at or before <paramref name="now"/>, across tenants.</summary>
    Task<IReadOnlyList<ReservationRecord>> ListExpiredReservationsAsync(DateTimeOffset now, int max, CancellationToken cancellationToken = default);

    /// <summary>Freezes in force for a tenant.</summary>
    Task<IReadOnlyList<FreezeRecord>> ListFreezesAsync(string tenantId, CancellationToken cancellationToken = default);
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

public sealed record PromptMessage(string Role, string Content);

/// <summary>Finds the settlement marker an event wrote for a reservation (in the event's partition).</summary>
public interface ISettlementMarkerSource
{
    /// <summary>The settling event of <paramref name="reservation"/>, looked up on the UTC days the call can have happened on.</summary>
    Task<BudgetUsage?> FindAsync(ReservationRecord reservation, CancellationToken cancellationToken = default);
}
