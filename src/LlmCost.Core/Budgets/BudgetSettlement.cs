using LlmCost.Core.Recording;

namespace LlmCost.Core.Budgets;

/// <summary>
/// Counts recorded events against the budgets and settles their reservations. The recording side calls it
/// durably (at least once per event, off the request, retried until it succeeds: the ingest log's pending row is
/// the intent); the ledger makes it exactly once (applied-event markers, reservation status). A batch of one
/// tenant's events goes to the ledger together, so it costs one transaction per 100 rows, not one per event.
/// </summary>
public sealed class BudgetUsageObserver(BudgetService budgets, UnappliedBudgetSpend? unapplied = null) : IUsageRecordedObserver
{
    public async Task OnRecordedAsync(IReadOnlyList<UsageEvent> recorded, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(recorded);
        await budgets.RecordUsageAsync(
            recorded.Select(e => new BudgetUsage(e.TenantId, e.UserId, e.TeamId, e.KeyId, e.EventId, e.ReservationId, e.Timestamp, e.CostUsd, e.Priced, e.Usage.TotalTokens, e.RecordedAt)).ToList(),
            cancellationToken).ConfigureAwait(false);
        // Only now, with the ledger's rows written (and this instance's cache holding them), may authorisations stop adding them.
        unapplied?.Applied(recorded);
    }
}

/// <summary>
/// Refuses, before anything is stored, an event whose <c>reservation_id</c> this tenant's ledger does not hold for
/// the same user (and the same key, when the reservation was made with one): another user's event must never
/// release a hold, and an id that is not ours is a client error, not something to ignore. Expired, released or
/// already settled reservations are accepted: a late settlement still counts.
/// </summary>
public sealed class ReservationAdmissionCheck(IBudgetLedger ledger, UnappliedBudgetSpend? unapplied = null) : IUsageAdmissionCheck
{
    public async Task<IReadOnlyList<AdmissionProblem>> CheckAsync(IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        var problems = new List<AdmissionProblem>();
        var named = events.Select((e, i) => (Event: e, Index: i)).Where(x => x.Event.ReservationId is not null).ToList();
        foreach (var tenant in named.GroupBy(x => x.Event.TenantId, StringComparer.Ordinal))
        {
            var keys = tenant.Where(x => BudgetValidator.IsReservationId(x.Event.ReservationId))
                .Select(x => BudgetKeys.Reservation(x.Event.ReservationId!)).Distinct(StringComparer.Ordinal).ToList();
            var held = keys.Count == 0
                ? new LedgerPartition(tenant.Key)
                : await ledger.ReadAsync(tenant.Key, keys, cancellationToken).ConfigureAwait(false);
            foreach (var (e, index) in tenant)
            {
                var reservation = BudgetValidator.IsReservationId(e.ReservationId)
                    ? held.Reservations.GetValueOrDefault(BudgetKeys.Reservation(e.ReservationId!))
                    : null;
                if (reservation is null || reservation.UserId != e.UserId)
                {
                    // One answer for "unknown" and "another user's": an id's existence is not revealed.
                    problems.Add(new AdmissionProblem(index, "reservation_id", $"is not a reservation of tenant '{e.TenantId}' for user '{e.UserId}'"));
                }
                else if (reservation.KeyId is { } keyId && e.KeyId != keyId)
                {
                    problems.Add(new AdmissionProblem(index, "key_id", e.KeyId is null
                        ? "is required: the reservation was made with a key_id, and only an event of that key settles it"
                        : "does not match the key_id the reservation was made with"));
                }
                else
                {
                    unapplied?.NoteHold(e, reservation);
                }
            }
        }

        return problems.OrderBy(p => p.Index).ToList();
    }
}
