using System.Runtime.CompilerServices;
using LlmCost.Core.Recording;

namespace LlmCost.Core.Budgets;

/// <summary>
/// Spend this instance acknowledged and the ledger has not yet counted: recorded usage reaches the budgets through
/// the projector a few hundred milliseconds later, and an authorisation in between must still see it (a hard
/// budget never admits on spend it was told about). Instead of making every authorisation wait for the projector,
/// the authorisation adds what is still pending here to the rows it reads. Local and conservative: an event is
/// dropped from here only after the ledger counted it (so for an instant it may count twice, never zero times), or
/// after <see cref="BudgetOptions.UnappliedSpendHorizon"/> when another instance applied it.
/// </summary>
public sealed class UnappliedBudgetSpend(TimeProvider time, BudgetOptions options) : IUsageAcknowledgedObserver
{
    /// <summary>Beyond this many pending events of one tenant, every one counts against every budget of the tenant.</summary>
    internal const int ExactLimit = 20_000;

    private readonly ConditionalWeakTable<UsageEvent, ReservationRecord> _holds = [];
    private readonly Dictionary<string, TenantPending> _tenants = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>Events acknowledged and not yet counted, all tenants.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _tenants.Values.Sum(t => t.ById.Count);
            }
        }
    }

    /// <summary>Notes the open reservation an event will settle (read by the admission check before it is stored).</summary>
    public void NoteHold(UsageEvent usage, ReservationRecord reservation)
    {
        ArgumentNullException.ThrowIfNull(usage);
        ArgumentNullException.ThrowIfNull(reservation);
        if (reservation.Status == ReservationStatus.Active)
        {
            _holds.AddOrUpdate(usage, reservation);
        }
    }

    public void OnAcknowledged(IReadOnlyList<UsageEvent> acknowledged)
    {
        ArgumentNullException.ThrowIfNull(acknowledged);
        var now = time.GetUtcNow();
        lock (_gate)
        {
            foreach (var tenantId in acknowledged.Select(e => e.TenantId).Distinct(StringComparer.Ordinal))
            {
                Prune(tenantId, now);
            }

            foreach (var e in acknowledged)
            {
                // A hold that expires before the projector runs may be swept first: then the event's cost is not covered.
                var hold = _holds.TryGetValue(e, out var reservation) && reservation.ExpiresAt > now + options.UnappliedSpendHorizon
                    ? reservation
                    : null;
                var pending = new PendingSpend(e.EventId, e.UserId, e.TeamId, e.KeyId ?? hold?.KeyId, e.Timestamp,
                    e.Priced ? e.CostUsd : 0m, e.Usage.TotalTokens, hold?.AmountUsd ?? 0m, hold?.Tokens ?? 0,
                    hold?.HeldIn.Select(BudgetKeys.StateOfLane).ToHashSet(StringComparer.Ordinal), now);
                if (!_tenants.TryGetValue(e.TenantId, out var tenant))
                {
                    _tenants[e.TenantId] = tenant = new TenantPending();
                }

                if (tenant.ById.TryAdd(e.EventId, pending))
                {
                    tenant.Order.Enqueue(pending);
                    tenant.Usd += pending.CostUsd;
                    tenant.Tokens += pending.Tokens;
                }
            }
        }
    }

    /// <summary>The ledger counted these events (on this or another instance): they no longer need adding.</summary>
    public void Applied(IReadOnlyList<UsageEvent> counted)
    {
        ArgumentNullException.ThrowIfNull(counted);
        lock (_gate)
        {
            foreach (var e in counted)
            {
                if (_tenants.TryGetValue(e.TenantId, out var tenant) && tenant.ById.Remove(e.EventId, out var pending))
                {
                    tenant.Usd -= pending.CostUsd;
                    tenant.Tokens -= pending.Tokens;
                    if (tenant.ById.Count == 0)
                    {
                        _tenants.Remove(e.TenantId);
                    }
                }
            }
        }
    }

    /// <summary>
    /// What a tenant's authorisation must add to the rows it is about to read. Taken BEFORE the ledger reads: an
    /// event that leaves this set before the snapshot was counted before the read.
    /// </summary>
    public UnappliedSnapshot Snapshot(string tenantId)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            if (Prune(tenantId, now) is not { } tenant)
            {
                return UnappliedSnapshot.Empty;
            }

            return tenant.ById.Count > ExactLimit
                ? new UnappliedSnapshot([], tenant.Usd, tenant.Tokens)
                : new UnappliedSnapshot([.. tenant.ById.Values], 0m, 0);
        }
    }

    /// <summary>Drops the tenant's events past the horizon (and queue entries already applied); null when none is left.</summary>
    private TenantPending? Prune(string tenantId, DateTimeOffset now)
    {
        if (!_tenants.TryGetValue(tenantId, out var tenant))
        {
            return null;
        }

        while (tenant.Order.TryPeek(out var oldest))
        {
            var current = tenant.ById.TryGetValue(oldest.EventId, out var held) && ReferenceEquals(held, oldest);
            if (current && oldest.AcknowledgedAt + options.UnappliedSpendHorizon > now)
            {
                break;
            }

            tenant.Order.Dequeue();
            if (current)
            {
                tenant.ById.Remove(oldest.EventId);
                tenant.Usd -= oldest.CostUsd;
                tenant.Tokens -= oldest.Tokens;
            }
        }

        if (tenant.ById.Count == 0)
        {
            _tenants.Remove(tenantId);
            return null;
        }

        return tenant;
    }

    private sealed class TenantPending
    {
        public Dictionary<string, PendingSpend> ById { get; } = new(StringComparer.Ordinal);
        public Queue<PendingSpend> Order { get; } = new();
        public decimal Usd { get; set; }
        public long Tokens { get; set; }
    }
}

/// <summary>One acknowledged event's effect on the budgets, before the ledger counts it.</summary>
/// <param name="HeldUsd">The open reservation it settles (counted already in the states of <paramref name="HeldStates"/>).</param>
public sealed record PendingSpend(
    string EventId, string UserId, string? TeamId, string? KeyId, DateTimeOffset Timestamp,
    decimal CostUsd, long Tokens, decimal HeldUsd, long HeldTokens, IReadOnlySet<string>? HeldStates, DateTimeOffset AcknowledgedAt)
{
    /// <summary>What this event adds to one budget's period state beyond what its reservation already holds there.</summary>
    public decimal UnitsFor(BudgetDefinition budget, BudgetPeriodState state)
    {
        ArgumentNullException.ThrowIfNull(budget);
        ArgumentNullException.ThrowIfNull(state);
        var applies = budget.Scope switch
        {
            BudgetScope.Tenant => true,
            BudgetScope.Team => TeamId is not null && budget.ScopeId == TeamId,
            BudgetScope.Key => KeyId is not null && budget.ScopeId == KeyId,
            BudgetScope.User => budget.AppliesToEveryUser ? UserId == state.Subject : budget.ScopeId == UserId,
            _ => false,
        };
        // Periods tile time, so the state's window holds the timestamp exactly when it is the event's period.
        if (!applies || !state.Window.Contains(Timestamp))
        {
            return 0m;
        }

        var units = BudgetUnits.Of(budget, CostUsd, Tokens);
        if (HeldStates is not null && HeldStates.Contains(state.Key))
        {
            units -= BudgetUnits.Of(budget, HeldUsd, HeldTokens);
        }

        return Math.Max(0m, units);
    }
}

/// <summary>A tenant's unapplied spend: each event, or (past <see cref="UnappliedBudgetSpend.ExactLimit"/>) one total charged to every budget.</summary>
public sealed record UnappliedSnapshot(IReadOnlyList<PendingSpend> Events, decimal OverflowUsd, long OverflowTokens)
{
    public static UnappliedSnapshot Empty { get; } = new([], 0m, 0);

    public decimal UnitsFor(BudgetDefinition budget, BudgetPeriodState state)
    {
        ArgumentNullException.ThrowIfNull(budget);
        var units = BudgetUnits.Of(budget, OverflowUsd, OverflowTokens);
        foreach (var e in Events)
        {
            units += e.UnitsFor(budget, state);
        }

        return units;
    }
}
