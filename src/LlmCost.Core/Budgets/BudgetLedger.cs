using LlmCost.Core.Alerts;
using LlmCost.Core.Audit;

namespace LlmCost.Core.Budgets;

/// <summary>
/// The rows of one tenant's budget partition that a batch of ledger commands reads and changes. The storage
/// adapter loads the keys the commands ask for, lets the commands apply (pure, in memory), then writes every
/// changed row in one entity-group transaction guarded by the ETags it read. On a conflict it loads again and
/// re-applies the same commands, which is why commands carry pre-generated ids and never depend on call count.
/// </summary>
public sealed class LedgerPartition
{
    public LedgerPartition(string tenantId)
    {
        TenantId = tenantId;
    }

    public string TenantId { get; }
    public Dictionary<string, BudgetPeriodState> States { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, ReservationRecord> Reservations { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, FreezeRecord> Freezes { get; } = new(StringComparer.Ordinal);
    public HashSet<string> AppliedEvents { get; } = new(StringComparer.Ordinal);

    /// <summary>Keys already looked up, whether found or not.</summary>
    public HashSet<string> Loaded { get; } = new(StringComparer.Ordinal);

    /// <summary>Keys of states, reservations and freezes to write (freezes absent from <see cref="Freezes"/> are deleted).</summary>
    public HashSet<string> Changed { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, Alert> NewAlerts { get; } = new(StringComparer.Ordinal);
    public HashSet<string> NewEventMarkers { get; } = new(StringComparer.Ordinal);
    public List<AuditEntry> NewAuditEntries { get; } = [];

    public BudgetPeriodState GetOrAddState(string budgetId, string subject, PeriodWindow window)
    {
        var key = BudgetKeys.State(budgetId, subject, window.Key);
        if (!States.TryGetValue(key, out var state))
        {
            state = new BudgetPeriodState(budgetId, subject, window);
            States[key] = state;
        }

        return state;
    }

    public void AddAlerts(IEnumerable<Alert> alerts)
    {
        foreach (var alert in alerts)
        {
            NewAlerts[BudgetKeys.Alert(alert.AlertId)] = alert;
        }
    }
}

/// <summary>Shared inputs of one application of a command batch.</summary>
public sealed record LedgerContext(DateTimeOffset Now, IBudgetSpendForecaster Forecaster);

/// <summary>One change to a tenant's budget partition. Apply may run several times (after conflicts); the last run counts.</summary>
public abstract class LedgerCommand
{
    public abstract string TenantId { get; }

    /// <summary>Keys to load, given what is loaded so far (a settlement first loads its reservation, then the states it holds).</summary>
    public abstract IEnumerable<string> RequiredKeys(LedgerPartition partition, DateTimeOffset now);

    public abstract void Apply(LedgerPartition partition, LedgerContext context);

    /// <summary>How many rows this command may add to the transaction at most (for batch sizing).</summary>
    public virtual int MaxNewRows => 4;

    internal static IEnumerable<string> FreezeKeys(string? userId, string? teamId, string? keyId)
    {
        yield return BudgetKeys.Freeze(BudgetScope.Tenant, "*");
        if (teamId is not null)
        {
            yield return BudgetKeys.Freeze(BudgetScope.Team, teamId);
        }

        if (userId is not null)
        {
            yield return BudgetKeys.Freeze(BudgetScope.User, userId);
        }

        if (keyId is not null)
        {
            yield return BudgetKeys.Freeze(BudgetScope.Key, keyId);
        }
    }

    /// <summary>The applicable budgets' slots at an instant (period states loaded or created, per-request without state).</summary>
    internal static List<BudgetSlot> Slots(LedgerPartition partition, IReadOnlyList<BudgetDefinition> budgets, string userId, DateTimeOffset at)
    {
        var slots = new List<BudgetSlot>(budgets.Count);
        foreach (var budget in budgets)
        {
            var subject = budget.SubjectFor(userId);
            var window = BudgetPeriodCalculator.WindowFor(budget, at);
            slots.Add(new BudgetSlot(budget, subject, window is { } w ? partition.GetOrAddState(budget.BudgetId, subject, w) : null));
        }

        return slots;
    }

    internal static IEnumerable<string> StateKeys(IReadOnlyList<BudgetDefinition> budgets, string userId, DateTimeOffset at)
    {
        foreach (var budget in budgets)
        {
            if (BudgetPeriodCalculator.WindowFor(budget, at) is { } window)
            {
                yield return BudgetKeys.State(budget.BudgetId, budget.SubjectFor(userId), window.Key);
            }
        }
    }
}

/// <summary>A request to admit one LLM call: who, which model, its worst case, and the budgets that apply.</summary>
public sealed record AuthorizationWork
{
    public required string TenantId { get; init; }
    public required string UserId { get; init; }
    public string? TeamId { get; init; }
    public string? KeyId { get; init; }
    public required string Provider { get; init; }
    public required string Model { get; init; }
    public required WorstCase Requested { get; init; }
    public IReadOnlyList<ModelCandidate> Candidates { get; init; } = [];
    public required IReadOnlyList<BudgetDefinition> Budgets { get; init; }

    /// <summary>Generated once per request (or derived from the caller's request id), so a retry never reserves twice.</summary>
    public required string ReservationId { get; init; }

    public required TimeSpan ReservationTtl { get; init; }

    /// <summary>True when <see cref="ReservationId"/> derives from the caller's request id and may already exist.</summary>
    public bool Idempotent { get; init; }
}

public sealed class AuthorizeCommand(AuthorizationWork work) : LedgerCommand
{
    public AuthorizationWork Work { get; } = work;
    public AuthorizationDecision? Result { get; private set; }
    public override string TenantId => Work.TenantId;

    public override int MaxNewRows => 1 + Work.Budgets.Count;

    // A random reservation id cannot exist yet, so only a caller-keyed one costs a lookup.
    public override IEnumerable<string> RequiredKeys(LedgerPartition partition, DateTimeOffset now) =>
        StateKeys(Work.Budgets, Work.UserId, now)
            .Concat(FreezeKeys(Work.UserId, Work.TeamId, Work.KeyId))
            .Concat(Work.Idempotent ? [BudgetKeys.Reservation(Work.ReservationId)] : []);

    public override void Apply(LedgerPartition partition, LedgerContext context)
    {
        ArgumentNullException.ThrowIfNull(partition);
        ArgumentNullException.ThrowIfNull(context);
        var now = context.Now;
        var slots = Slots(partition, Work.Budgets, Work.UserId, now);

        if (partition.Reservations.TryGetValue(BudgetKeys.Reservation(Work.ReservationId), out var existing))
        {
            // A retry of an admitted request: answer as before, reserve nothing more.
            Result = new AuthorizationDecision
            {
                Outcome = existing.Outcome,
                ReservationId = existing.ReservationId,
                ReservedUsd = existing.AmountUsd,
                ReservedTokens = existing.Tokens,
                SuggestedProvider = existing.Outcome == AuthorizationOutcome.Downgrade ? existing.Provider : null,
                SuggestedModel = existing.Outcome == AuthorizationOutcome.Downgrade ? existing.Model : null,
                Budgets = slots.Select(s => BudgetAuthorizer.Standing(s, now)).ToList(),
                Replayed = true,
            };
            return;
        }

        var freezes = FreezeKeys(Work.UserId, Work.TeamId, Work.KeyId)
            .Select(k => partition.Freezes.GetValueOrDefault(k))
            .OfType<FreezeRecord>()
            .ToList();
        var verdict = BudgetAuthorizer.Decide(slots, freezes, Work.Provider, Work.Model, Work.Requested, Work.Candidates, now);
        if (verdict.Outcome != AuthorizationOutcome.Deny
            && slots.FirstOrDefault(s => s.State?.ActiveReservations(now) >= BudgetPeriodState.MaxActiveReservations) is { } crowded)
        {
            // Bounded so a period state row stays far below the entity size limit.
            verdict = AuthorizationVerdict.Denied(
                $"budget '{crowded.Definition.BudgetId}' has {BudgetPeriodState.MaxActiveReservations} requests in flight; settle some first",
                crowded.Definition.BudgetId);
        }

        if (verdict.Outcome == AuthorizationOutcome.Deny || verdict.Admitted is null)
        {
            Result = new AuthorizationDecision
            {
                Outcome = AuthorizationOutcome.Deny,
                Budgets = slots.Select(s => BudgetAuthorizer.Standing(s, now)).ToList(),
                Reason = verdict.Reason,
                LimitingBudgetId = verdict.LimitingBudgetId,
            };
            return;
        }

        var admitted = verdict.Admitted;
        var amountUsd = admitted.Priced ? admitted.WorstCaseUsd : 0m;
        var expiresAt = now + Work.ReservationTtl;
        var heldIn = new List<string>();
        foreach (var slot in slots)
        {
            if (slot.State is { } state)
            {
                state.Hold(new HeldReservation(Work.ReservationId, amountUsd, admitted.WorstCaseTokens, expiresAt));
                partition.Changed.Add(state.Key);
                heldIn.Add(state.Key);
            }
        }

        string? reservationId = null;
        if (heldIn.Count > 0)
        {
            reservationId = Work.ReservationId;
            var key = BudgetKeys.Reservation(reservationId);
            partition.Reservations[key] = new ReservationRecord
            {
                ReservationId = reservationId,
                TenantId = Work.TenantId,
                UserId = Work.UserId,
                TeamId = Work.TeamId,
                KeyId = Work.KeyId,
                Provider = verdict.Provider ?? Work.Provider,
                Model = verdict.Model ?? Work.Model,
                Outcome = verdict.Outcome,
                AmountUsd = amountUsd,
                Tokens = admitted.WorstCaseTokens,
                CreatedAt = now,
                ExpiresAt = expiresAt,
                HeldIn = heldIn,
            };
            partition.Changed.Add(key);
        }

        Result = new AuthorizationDecision
        {
            Outcome = verdict.Outcome,
            ReservationId = reservationId,
            ReservedUsd = reservationId is null ? 0m : amountUsd,
            ReservedTokens = reservationId is null ? 0 : admitted.WorstCaseTokens,
            SuggestedProvider = verdict.Outcome == AuthorizationOutcome.Downgrade ? verdict.Provider : null,
            SuggestedModel = verdict.Outcome == AuthorizationOutcome.Downgrade ? verdict.Model : null,
            Budgets = slots.Select(s => BudgetAuthorizer.Standing(s, now)).ToList(),
            Reason = verdict.Reason,
            LimitingBudgetId = verdict.LimitingBudgetId,
        };
    }
}

/// <summary>A recorded usage event to count against the budgets: settles its reservation when it carries one.</summary>
public sealed record SettlementWork
{
    public required string TenantId { get; init; }
    public required string UserId { get; init; }
    public string? TeamId { get; init; }
    public string? KeyId { get; init; }
    public required string EventId { get; init; }
    public string? ReservationId { get; init; }

    /// <summary>When the call happened: picks the period (a late event for an earlier day counts in that day).</summary>
    public required DateTimeOffset Timestamp { get; init; }

    public required decimal CostUsd { get; init; }
    public required bool Priced { get; init; }
    public required long Tokens { get; init; }
    public required IReadOnlyList<BudgetDefinition> Budgets { get; init; }

    /// <summary>All of the tenant's budgets: the key budgets of the reservation's key apply too (events carry no key id).</summary>
    public IReadOnlyList<BudgetDefinition> TenantBudgets { get; init; } = [];
}

public enum SettlementOutcome
{
    /// <summary>Counted now (and its reservation, if any, released).</summary>
    Applied,

    /// <summary>Already counted before: nothing changed.</summary>
    Duplicate,
}

public sealed record SettlementResult(SettlementOutcome Outcome, bool ReservationReleased, IReadOnlyList<Alert> Alerts);

public sealed class SettleCommand(SettlementWork work) : LedgerCommand
{
    public SettlementWork Work { get; } = work;
    public SettlementResult? Result { get; private set; }
    public override string TenantId => Work.TenantId;

    public override int MaxNewRows => 4 + (2 * Math.Max(Work.Budgets.Count, Work.TenantBudgets.Count));

    /// <summary>The event's budgets, plus the key budgets of the key its reservation was made with.</summary>
    private IReadOnlyList<BudgetDefinition> BudgetsFor(LedgerPartition partition)
    {
        if (Work.KeyId is null && Work.ReservationId is { } id
            && partition.Reservations.TryGetValue(BudgetKeys.Reservation(id), out var reservation) && reservation.KeyId is { } keyId)
        {
            return BudgetService.Applicable(Work.TenantBudgets, Work.UserId, Work.TeamId, keyId);
        }

        return Work.Budgets;
    }

    public override IEnumerable<string> RequiredKeys(LedgerPartition partition, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(partition);
        yield return BudgetKeys.AppliedEvent(Work.EventId);
        foreach (var key in StateKeys(BudgetsFor(partition), Work.UserId, Work.Timestamp))
        {
            yield return key;
        }

        if (Work.ReservationId is { } reservationId)
        {
            var reservationKey = BudgetKeys.Reservation(reservationId);
            yield return reservationKey;
            if (partition.Reservations.TryGetValue(reservationKey, out var reservation))
            {
                foreach (var key in reservation.HeldIn)
                {
                    yield return key;
                }
            }
        }
    }

    public override void Apply(LedgerPartition partition, LedgerContext context)
    {
        ArgumentNullException.ThrowIfNull(partition);
        ArgumentNullException.ThrowIfNull(context);
        var eventKey = BudgetKeys.AppliedEvent(Work.EventId);
        ReservationRecord? reservation = null;
        var reservationKey = Work.ReservationId is null ? null : BudgetKeys.Reservation(Work.ReservationId);
        if (reservationKey is not null)
        {
            reservation = partition.Reservations.GetValueOrDefault(reservationKey);
        }

        if (partition.AppliedEvents.Contains(eventKey))
        {
            Result = new SettlementResult(SettlementOutcome.Duplicate, false, []);
            return;
        }

        // A reservation already settled by another event is not released twice; this event's cost still counts.
        var released = false;
        if (reservation is not null && reservation.Status != ReservationStatus.Settled)
        {
            foreach (var key in reservation.HeldIn)
            {
                if (partition.States.TryGetValue(key, out var holding) && holding.Release(reservation.ReservationId))
                {
                    partition.Changed.Add(key);
                    released = true;
                }
            }

            // An expired reservation is closed as settled too: the event's cost still counts below.
            partition.Reservations[reservationKey!] = reservation with
            {
                Status = ReservationStatus.Settled,
                SettledEventId = Work.EventId,
                SettledCostUsd = Work.CostUsd,
                ClosedAt = context.Now,
            };
            partition.Changed.Add(reservationKey!);
        }

        var alerts = new List<Alert>();
        foreach (var slot in Slots(partition, BudgetsFor(partition), Work.UserId, Work.Timestamp))
        {
            if (slot.State is not { } state)
            {
                continue;
            }

            var tripped = state.AddSpend(Work.CostUsd, Work.Tokens, Work.Priced, context.Now, slot.Definition.CircuitBreaker);
            partition.Changed.Add(state.Key);
            alerts.AddRange(BudgetAlerts.Evaluate(slot.Definition, state, context.Forecaster, context.Now, tripped));
        }

        partition.AppliedEvents.Add(eventKey);
        partition.NewEventMarkers.Add(eventKey);
        partition.AddAlerts(alerts);
        Result = new SettlementResult(SettlementOutcome.Applied, released, alerts);
    }
}

/// <summary>Closes reservations that reached their expiry unsettled and removes them from the states holding them.</summary>
public sealed class ExpireReservationsCommand(string tenantId, IReadOnlyList<string> reservationIds) : LedgerCommand
{
    public IReadOnlyList<string> ReservationIds { get; } = reservationIds;
    public int Expired { get; private set; }
    public override string TenantId { get; } = tenantId;
    public override int MaxNewRows => 0;

    public override IEnumerable<string> RequiredKeys(LedgerPartition partition, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(partition);
        foreach (var id in ReservationIds)
        {
            var key = BudgetKeys.Reservation(id);
            yield return key;
            if (partition.Reservations.TryGetValue(key, out var reservation))
            {
                foreach (var stateKey in reservation.HeldIn)
                {
                    yield return stateKey;
                }
            }
        }
    }

    public override void Apply(LedgerPartition partition, LedgerContext context)
    {
        ArgumentNullException.ThrowIfNull(partition);
        ArgumentNullException.ThrowIfNull(context);
        Expired = 0;
        foreach (var id in ReservationIds)
        {
            var key = BudgetKeys.Reservation(id);
            if (!partition.Reservations.TryGetValue(key, out var reservation)
                || reservation.Status != ReservationStatus.Active
                || reservation.ExpiresAt > context.Now)
            {
                continue;
            }

            foreach (var stateKey in reservation.HeldIn)
            {
                if (partition.States.TryGetValue(stateKey, out var state))
                {
                    state.Release(id);
                    partition.Changed.Add(stateKey);
                }
            }

            partition.Reservations[key] = reservation with { Status = ReservationStatus.Expired, ClosedAt = context.Now };
            partition.Changed.Add(key);
            Expired++;
        }
    }
}

/// <summary>Freezes or unfreezes a tenant, team, user or key, with its audit line in the same transaction.</summary>
public sealed class SetFreezeCommand(string tenantId, BudgetScope scope, string scopeId, FreezeRecord? freeze, AuditEntry audit) : LedgerCommand
{
    public override string TenantId { get; } = tenantId;
    public bool Changed { get; private set; }

    public override IEnumerable<string> RequiredKeys(LedgerPartition partition, DateTimeOffset now)
    {
        yield return BudgetKeys.Freeze(scope, scopeId);
    }

    public override void Apply(LedgerPartition partition, LedgerContext context)
    {
        ArgumentNullException.ThrowIfNull(partition);
        var key = BudgetKeys.Freeze(scope, scopeId);
        var present = partition.Freezes.ContainsKey(key);
        if (freeze is null)
        {
            partition.Freezes.Remove(key);
        }
        else
        {
            partition.Freezes[key] = freeze;
        }

        Changed = present != (freeze is not null);
        partition.Changed.Add(key);
        partition.NewAuditEntries.Add(audit);
    }
}

/// <summary>Lifts a tripped circuit breaker of one budget period state (an admin's "reset"), with its audit line.</summary>
public sealed class ResetBreakerCommand(BudgetDefinition budget, string subject, AuditEntry audit) : LedgerCommand
{
    public override string TenantId => budget.TenantId;

    /// <summary>True when a tripped breaker was lifted.</summary>
    public bool WasTripped { get; private set; }

    public override IEnumerable<string> RequiredKeys(LedgerPartition partition, DateTimeOffset now) =>
        StateKeys([budget], subject, now);

    public override void Apply(LedgerPartition partition, LedgerContext context)
    {
        ArgumentNullException.ThrowIfNull(partition);
        ArgumentNullException.ThrowIfNull(context);
        WasTripped = false;
        if (BudgetPeriodCalculator.WindowFor(budget, context.Now) is not { } window
            || !partition.States.TryGetValue(BudgetKeys.State(budget.BudgetId, budget.SubjectFor(subject), window.Key), out var state))
        {
            return;
        }

        WasTripped = state.IsTripped(context.Now);
        state.ResetBreaker();
        partition.Changed.Add(state.Key);
        partition.NewAuditEntries.Add(audit);
    }
}
