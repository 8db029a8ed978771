using System.Text;

namespace LlmCost.Core.Budgets;

/// <summary>
/// Logical row keys of one tenant's budget ledger. Every row that must change together (period states,
/// reservations, freezes, fired alerts, applied-event markers) lives in the tenant's partition, so one
/// entity-group transaction can change them together. Segments are escaped so a '|' in an id can't forge a key;
/// the storage adapter sanitises the whole key for its own forbidden characters.
/// </summary>
public static class BudgetKeys
{
    public static string State(string budgetId, string subject, string periodKey) =>
        $"st|{Escape(budgetId)}|{Escape(subject)}|{periodKey}";

    public static string Reservation(string reservationId) => $"rs|{Escape(reservationId)}";

    public static string Freeze(BudgetScope scope, string scopeId) => $"fz|{BudgetNames.Of(scope)}|{Escape(scopeId)}";

    public static string AppliedEvent(string eventId) => $"ev|{Escape(eventId)}";

    public static string Alert(string alertId) => $"al|{Escape(alertId)}";

    public static string Escape(string segment)
    {
        ArgumentNullException.ThrowIfNull(segment);
        if (segment.AsSpan().IndexOfAny('%', '|') < 0)
        {
            return segment;
        }

        var builder = new StringBuilder(segment.Length + 8);
        foreach (var c in segment)
        {
            _ = c switch
            {
                '%' => builder.Append("%25"),
                '|' => builder.Append("%7C"),
                _ => builder.Append(c),
            };
        }

        return builder.ToString();
    }
}

/// <summary>Worst-case cost held for one admitted request until it is settled or expires.</summary>
public sealed record HeldReservation(string ReservationId, decimal AmountUsd, long Tokens, DateTimeOffset ExpiresAt);

/// <summary>
/// The running total of one budget for one subject (the user of an every-user budget, else the scope) in one
/// period: actual spend plus the reservations still held. Reservations stop counting at their expiry even before
/// the expiry timer removes them, so a crashed client never blocks a user for longer than the reservation TTL.
/// </summary>
public sealed class BudgetPeriodState
{
    /// <summary>Unsettled reservations one period state holds at most (its row must stay well below 64 KiB per property).</summary>
    public const int MaxActiveReservations = 300;

    private readonly Dictionary<string, HeldReservation> _held = new(StringComparer.Ordinal);
    private readonly HashSet<string> _fired = new(StringComparer.Ordinal);

    public BudgetPeriodState(string budgetId, string subject, PeriodWindow window)
    {
        BudgetId = budgetId;
        Subject = subject;
        Window = window;
    }

    public string BudgetId { get; }
    public string Subject { get; }
    public PeriodWindow Window { get; }
    public string Key => BudgetKeys.State(BudgetId, Subject, Window.Key);
    public decimal SpentUsd { get; private set; }
    public long SpentTokens { get; private set; }

    /// <summary>Events whose cost could not be priced: counted in tokens, visible, never a silent $0.</summary>
    public long UnpricedEvents { get; private set; }

    public long EventCount { get; private set; }
    public IReadOnlyDictionary<string, HeldReservation> Held => _held;

    /// <summary>Threshold keys already fired this period ("50", "100", "projected", "breaker").</summary>
    public IReadOnlyCollection<string> FiredAlerts => _fired;

    public DateTimeOffset? BreakerWindowStart { get; private set; }
    public decimal BreakerWindowSpentUsd { get; private set; }
    public DateTimeOffset? TrippedUntil { get; private set; }

    public static BudgetPeriodState Restore(
        string budgetId,
        string subject,
        PeriodWindow window,
        decimal spentUsd,
        long spentTokens,
        long unpricedEvents,
        long eventCount,
        IEnumerable<HeldReservation> held,
        IEnumerable<string> fired,
        DateTimeOffset? breakerWindowStart,
        decimal breakerWindowSpentUsd,
        DateTimeOffset? trippedUntil)
    {
        var state = new BudgetPeriodState(budgetId, subject, window)
        {
            SpentUsd = spentUsd,
            SpentTokens = spentTokens,
            UnpricedEvents = unpricedEvents,
            EventCount = eventCount,
            BreakerWindowStart = breakerWindowStart,
            BreakerWindowSpentUsd = breakerWindowSpentUsd,
            TrippedUntil = trippedUntil,
        };
        foreach (var reservation in held)
        {
            state._held[reservation.ReservationId] = reservation;
        }

        state._fired.UnionWith(fired);
        return state;
    }

    public decimal ReservedUsd(DateTimeOffset now) => _held.Values.Where(r => r.ExpiresAt > now).Sum(r => r.AmountUsd);

    public long ReservedTokens(DateTimeOffset now) => _held.Values.Where(r => r.ExpiresAt > now).Sum(r => r.Tokens);

    public int ActiveReservations(DateTimeOffset now) => _held.Values.Count(r => r.ExpiresAt > now);

    public bool IsTripped(DateTimeOffset now) => TrippedUntil is { } until && until > now;

    /// <summary>Holds a reservation; holding the same id twice holds it once.</summary>
    public void Hold(HeldReservation reservation)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        _held[reservation.ReservationId] = reservation;
    }

    public bool Release(string reservationId) => _held.Remove(reservationId);

    public int DropExpired(DateTimeOffset now)
    {
        var expired = _held.Values.Where(r => r.ExpiresAt <= now).Select(r => r.ReservationId).ToList();
        foreach (var id in expired)
        {
            _held.Remove(id);
        }

        return expired.Count;
    }

    public bool HasFired(string alertKey) => _fired.Contains(alertKey);

    public bool MarkFired(string alertKey) => _fired.Add(alertKey);

    public void ResetBreaker()
    {
        TrippedUntil = null;
        BreakerWindowStart = null;
        BreakerWindowSpentUsd = 0m;
    }

    /// <summary>
    /// Adds actual spend. Returns true when this spend trips the circuit breaker (it was not tripped before).
    /// The breaker's short window is aligned to the period start so every instance computes the same window.
    /// </summary>
    public bool AddSpend(decimal usd, long tokens, bool priced, DateTimeOffset now, CircuitBreakerSettings? breaker)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(usd);
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        var spentBefore = SpentUsd;
        SpentUsd += usd;
        SpentTokens += tokens;
        EventCount++;
        if (!priced)
        {
            UnpricedEvents++;
        }

        if (breaker is null || breaker.Window <= TimeSpan.Zero || !Window.Contains(now))
        {
            return false;
        }

        var index = (now - Window.Start).Ticks / breaker.Window.Ticks;
        var windowStart = Window.Start + TimeSpan.FromTicks(index * breaker.Window.Ticks);
        if (BreakerWindowStart != windowStart)
        {
            BreakerWindowStart = windowStart;
            BreakerWindowSpentUsd = 0m;
        }

        BreakerWindowSpentUsd += usd;
        decimal? normal = breaker.NormalUsdPerWindow;
        if (normal is null && index > 0)
        {
            // The average per window of this period before the current window.
            var spentBeforeWindow = spentBefore - (BreakerWindowSpentUsd - usd);
            normal = spentBeforeWindow / index;
        }

        if (normal is not { } baseline || baseline <= 0m || IsTripped(now))
        {
            return false;
        }

        if (BreakerWindowSpentUsd >= breaker.MinimumWindowSpendUsd && BreakerWindowSpentUsd > breaker.Multiple * baseline)
        {
            TrippedUntil = now + breaker.Cooldown;
            return true;
        }

        return false;
    }
}

public enum ReservationStatus
{
    Active,
    Settled,
    Expired,
}

/// <summary>
/// An admitted request's reservation: which period states hold it, and how it ended. Kept after it ends so a
/// retried settlement or authorisation is recognised (never double-settled, never double-reserved).
/// </summary>
public sealed record ReservationRecord
{
    public required string ReservationId { get; init; }
    public required string TenantId { get; init; }
    public required string UserId { get; init; }
    public string? TeamId { get; init; }
    public string? KeyId { get; init; }
    public required string Provider { get; init; }

    /// <summary>The model admitted (the suggested one for a downgrade).</summary>
    public required string Model { get; init; }

    public required AuthorizationOutcome Outcome { get; init; }
    public required decimal AmountUsd { get; init; }
    public required long Tokens { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset ExpiresAt { get; init; }
    public required IReadOnlyList<string> HeldIn { get; init; }
    public ReservationStatus Status { get; init; } = ReservationStatus.Active;
    public string? SettledEventId { get; init; }
    public decimal? SettledCostUsd { get; init; }
    public DateTimeOffset? ClosedAt { get; init; }
}

public static class BudgetPeriodStateExtensions
{
    /// <summary>A deep copy, so an in-memory store can apply commands to a copy and keep its rows on failure.</summary>
    public static BudgetPeriodState Copy(this BudgetPeriodState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return BudgetPeriodState.Restore(
            state.BudgetId, state.Subject, state.Window, state.SpentUsd, state.SpentTokens, state.UnpricedEvents, state.EventCount,
            state.Held.Values, state.FiredAlerts, state.BreakerWindowStart, state.BreakerWindowSpentUsd, state.TrippedUntil);
    }
}
