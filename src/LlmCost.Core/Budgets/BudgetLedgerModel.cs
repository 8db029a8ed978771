// Long on purpose: the ledger's state model (keys, limits, units, the period state and its lanes with their
// snapshots, reservations), the types the pure commands change, kept together with their invariants.
using System.Globalization;
using System.Text;

namespace LlmCost.Core.Budgets;

/// <summary>
/// Logical row keys of one tenant's budget ledger. Every row that must change together (period states and their
/// lanes, reservations and their expiry index, freezes, fired alerts, applied-event markers) lives in the
/// tenant's partition, so one entity-group transaction can change them together. Segments are escaped so a '|'
/// in an id can't forge a key; the storage adapter sanitises the whole key for its own forbidden characters.
/// </summary>
public static class BudgetKeys
{
    public static string State(string budgetId, string subject, string periodKey) =>
        $"st|{Escape(budgetId)}|{Escape(subject)}|{periodKey}";

    /// <summary>One escrow lane of a period state: the state key plus "|l" and two digits, so it sorts right after it.</summary>
    public static string Lane(string stateKey, int index) =>
        string.Create(CultureInfo.InvariantCulture, $"{stateKey}|l{index:D2}");

    public static IEnumerable<string> Lanes(string stateKey, int count)
    {
        for (var i = 0; i < count; i++)
        {
            yield return Lane(stateKey, i);
        }
    }

    /// <summary>The state key a lane key belongs to.</summary>
    public static string StateOfLane(string laneKey)
    {
        ArgumentNullException.ThrowIfNull(laneKey);
        return laneKey[..laneKey.LastIndexOf('|')];
    }

    public static int LaneIndex(string laneKey)
    {
        ArgumentNullException.ThrowIfNull(laneKey);
        return int.Parse(laneKey.AsSpan(laneKey.LastIndexOf('|') + 2), NumberStyles.None, CultureInfo.InvariantCulture);
    }

    public static bool IsLane(string key) => key.StartsWith("st|", StringComparison.Ordinal) && key.Length > 4 && key[^4] == '|' && key[^3] == 'l';

    public static string Reservation(string reservationId) => $"rs|{Escape(reservationId)}";

    /// <summary>The expiry index row of an open reservation: ordered by expiry, so the sweep reads only what is due.</summary>
    public static string Expiry(DateTimeOffset expiresAt, string reservationId) =>
        string.Create(CultureInfo.InvariantCulture, $"xp|{expiresAt.UtcTicks:D19}|{Escape(reservationId)}");

    public static string Freeze(BudgetScope scope, string scopeId) => $"fz|{BudgetNames.Of(scope)}|{Escape(scopeId)}";

    /// <summary>
    /// The marker of an event already counted. Keyed by the UTC day of the event's timestamp (a re-delivery carries
    /// the same timestamp), so old markers are pruned by a key range instead of a scan.
    /// </summary>
    public static string AppliedEvent(string eventId, DateTimeOffset timestamp) =>
        string.Create(CultureInfo.InvariantCulture, $"ev|{timestamp.UtcDateTime:yyyyMMdd}|{Escape(eventId)}");

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

/// <summary>
/// Limits of one ledger transaction, by design: Table Storage takes at most 100 actions (4 MiB) per entity-group
/// transaction. An authorisation writes its reservation and expiry rows plus, per applicable budget, its lane
/// (and, when a lane runs dry, the state and every lane); a settlement writes its marker and reservation plus the
/// same per budget. With at most <see cref="MaxApplicableBudgets"/> stateful budgets per request and at most
/// <see cref="MaxLanes"/> lanes per state, one command never needs more than 3 + 8 x (1 + 11) = 99 actions.
/// </summary>
public static class LedgerLimits
{
    public const int MaxActionsPerTransaction = 100;

    /// <summary>Stateful budgets that may apply to one request (tenant + team + key + user or every-user).</summary>
    public const int MaxApplicableBudgets = 8;

    public const int MaxLanes = 11;

    /// <summary>Enough for three instances with three committers each to write different lanes.</summary>
    public const int DefaultLanes = 11;

    /// <summary>Threshold percentages per budget (each fired key is kept in the state row).</summary>
    public const int MaxThresholds = 20;
}

/// <summary>What a budget is measured in: USD for an amount budget, tokens for a token budget.</summary>
public static class BudgetUnits
{
    public static decimal Limit(BudgetDefinition budget)
    {
        ArgumentNullException.ThrowIfNull(budget);
        return budget.AmountUsd ?? budget.TokenLimit ?? 0m;
    }

    public static decimal Of(BudgetDefinition budget, decimal usd, long tokens)
    {
        ArgumentNullException.ThrowIfNull(budget);
        return budget.IsUsd ? usd : tokens;
    }

    /// <summary>Hard and adaptive budgets are enforced through escrow grants; soft budgets only count.</summary>
    public static bool Enforced(BudgetDefinition budget)
    {
        ArgumentNullException.ThrowIfNull(budget);
        return budget.Mode != BudgetMode.Soft;
    }

    /// <summary>
    /// The version of a definition's limit the grants were computed under: when the limit, its unit or the
    /// enforcement changes, the grants are rebased before the next decision. Ordered by the update instant so an
    /// instance with an older cached definition never rebases back to it.
    /// </summary>
    public static string LimitVersion(BudgetDefinition budget)
    {
        ArgumentNullException.ThrowIfNull(budget);
        return string.Create(CultureInfo.InvariantCulture,
            $"{budget.UpdatedAt.UtcTicks:D19}|{(Enforced(budget) ? "e" : "s")}|{(budget.IsUsd ? "usd" : "tok")}|{Limit(budget)}");
    }

    /// <summary>True when <paramref name="stored"/> is older than the definition's version (a rebase is due).</summary>
    public static bool IsOutdated(string? stored, BudgetDefinition budget)
    {
        var current = LimitVersion(budget);
        if (stored is null || stored == current)
        {
            return stored is null;
        }

        // Same-length tick prefixes compare as text; a cached definition older than the stored version is stale.
        return string.CompareOrdinal(stored[..19], current[..19]) <= 0;
    }
}

/// <summary>
/// The main row of one budget for one subject (the user of an every-user budget, else the scope) in one period:
/// actual spend, what is granted to its lanes, fired alerts and the breaker. Open reservations are counted in the
/// lanes (<see cref="BudgetLane"/>) and listed in rows of their own, so nothing here grows with traffic.
/// </summary>
/// <remarks>
/// Escrow: <c>pool = limit - spent - granted</c> is headroom no lane holds. A lane admits a worst case only from
/// its own grant (<c>grant - reserved</c>), so admissions on different lanes never write the same row; a lane that
/// runs dry takes a share of the pool (writing this row) or, when the pool is empty, gathers the others' free
/// grant in one transaction. Invariant for hard and adaptive budgets: every lane has <c>reserved &lt;= grant</c>
/// and <c>pool &gt;= 0</c>, hence <c>spent + reserved &lt;= limit</c> at every admission.
/// </remarks>
public sealed class BudgetPeriodState
{
    private readonly HashSet<string> _fired = new(StringComparer.Ordinal);
    private readonly Dictionary<int, LaneDelta> _deltas = [];

    public BudgetPeriodState(string budgetId, string subject, PeriodWindow window, int laneCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(laneCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(laneCount, LedgerLimits.MaxLanes);
        BudgetId = budgetId;
        Subject = subject;
        Window = window;
        LaneCount = laneCount;
    }

    public string BudgetId { get; }
    public string Subject { get; }
    public PeriodWindow Window { get; }
    public string Key => BudgetKeys.State(BudgetId, Subject, Window.Key);

    /// <summary>Lanes of this state, fixed when it is created (a configuration change applies to new periods).</summary>
    public int LaneCount { get; }

    public decimal SpentUsd { get; private set; }
    public long SpentTokens { get; private set; }

    /// <summary>Events whose cost could not be priced: counted in tokens, visible, never a silent $0.</summary>
    public long UnpricedEvents { get; private set; }

    public long EventCount { get; private set; }

    /// <summary>Sum of the lanes' grants as written in the lanes, in the budget's unit (see <see cref="Deltas"/>).</summary>
    public decimal Granted { get; set; }

    /// <summary>
    /// What settlements, expiries and releases took out of each lane since it was last written together with this
    /// row. Closing a reservation writes only here, never the lane an authorisation may be writing at the same
    /// moment; the next transaction that writes both folds the delta into the lane.
    /// </summary>
    public IReadOnlyDictionary<int, LaneDelta> Deltas => _deltas;

    /// <summary><see cref="BudgetUnits.LimitVersion"/> the grants were computed under.</summary>
    public string? LimitVersion { get; set; }

    /// <summary>When the spend recorded before this state existed was read; events recorded before it are in the seed.</summary>
    public DateTimeOffset? SeedCutoff { get; private set; }

    public decimal SeedUsd { get; private set; }
    public long SeedTokens { get; private set; }
    public long SeedEvents { get; private set; }

    /// <summary>Events that settled a reservation after it had expired or been released (they still count).</summary>
    public long LateSettlements { get; private set; }

    /// <summary>Threshold keys already fired this period ("50", "100", "projected", "overspend", "breaker:...").</summary>
    public IReadOnlyCollection<string> FiredAlerts => _fired;

    public DateTimeOffset? BreakerWindowStart { get; private set; }
    public decimal BreakerWindowSpentUsd { get; private set; }
    public DateTimeOffset? TrippedUntil { get; private set; }

    public static BudgetPeriodState Restore(PeriodStateSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var state = new BudgetPeriodState(snapshot.BudgetId, snapshot.Subject, snapshot.Window, snapshot.LaneCount)
        {
            SpentUsd = snapshot.SpentUsd,
            SpentTokens = snapshot.SpentTokens,
            UnpricedEvents = snapshot.UnpricedEvents,
            EventCount = snapshot.EventCount,
            Granted = snapshot.Granted,
            LimitVersion = snapshot.LimitVersion,
            SeedCutoff = snapshot.SeedCutoff,
            SeedUsd = snapshot.SeedUsd,
            SeedTokens = snapshot.SeedTokens,
            SeedEvents = snapshot.SeedEvents,
            LateSettlements = snapshot.LateSettlements,
            BreakerWindowStart = snapshot.BreakerWindowStart,
            BreakerWindowSpentUsd = snapshot.BreakerWindowSpentUsd,
            TrippedUntil = snapshot.TrippedUntil,
        };
        state._fired.UnionWith(snapshot.Fired);
        foreach (var delta in snapshot.Deltas)
        {
            state._deltas[delta.Lane] = delta;
        }

        return state;
    }

    public PeriodStateSnapshot ToSnapshot() => new()
    {
        BudgetId = BudgetId,
        Subject = Subject,
        Window = Window,
        LaneCount = LaneCount,
        SpentUsd = SpentUsd,
        SpentTokens = SpentTokens,
        UnpricedEvents = UnpricedEvents,
        EventCount = EventCount,
        Granted = Granted,
        LimitVersion = LimitVersion,
        SeedCutoff = SeedCutoff,
        SeedUsd = SeedUsd,
        SeedTokens = SeedTokens,
        SeedEvents = SeedEvents,
        LateSettlements = LateSettlements,
        Fired = _fired.Order(StringComparer.Ordinal).ToList(),
        Deltas = _deltas.Values.OrderBy(d => d.Lane).ToList(),
        BreakerWindowStart = BreakerWindowStart,
        BreakerWindowSpentUsd = BreakerWindowSpentUsd,
        TrippedUntil = TrippedUntil,
    };

    public BudgetPeriodState Copy() => Restore(ToSnapshot());

    /// <summary>Starts the state from the spend recorded before it existed (a budget created mid-period).</summary>
    public void Seed(RecordedSpend seed)
    {
        ArgumentNullException.ThrowIfNull(seed);
        SeedCutoff = seed.Cutoff;
        SeedUsd = seed.CostUsd;
        SeedTokens = seed.Tokens;
        SeedEvents = seed.Events;
        SpentUsd += seed.CostUsd;
        SpentTokens += seed.Tokens;
        EventCount += seed.Events;
        UnpricedEvents += seed.UnpricedEvents;
    }

    /// <summary>True when an event recorded at <paramref name="recordedAt"/> is already in this state's seed.</summary>
    public bool InSeed(DateTimeOffset recordedAt) =>
        SeedCutoff is { } cutoff && recordedAt != default && recordedAt < cutoff;

    public decimal Spent(BudgetDefinition budget) => BudgetUnits.Of(budget, SpentUsd, SpentTokens);

    /// <summary>Headroom that no lane holds; negative only after actual spend overran the limit.</summary>
    public decimal Pool(BudgetDefinition budget) => BudgetUnits.Limit(budget) - Spent(budget) - (Granted - _deltas.Values.Sum(d => d.Consumed));

    /// <summary>
    /// This row's delta for <paramref name="lane"/>, when it applies to the lane's version (same epoch). A lane
    /// and this row read together always agree; a cached row older than the lane gives no delta, which only
    /// makes the lane look fuller than it is (the safe side).
    /// </summary>
    public LaneDelta DeltaFor(BudgetLane lane)
    {
        ArgumentNullException.ThrowIfNull(lane);
        return _deltas.TryGetValue(lane.Index, out var delta) && delta.Epoch == lane.Epoch ? delta : LaneDelta.Zero(lane.Index, lane.Epoch);
    }

    /// <summary>
    /// Takes a closed reservation's worst case out of lane <paramref name="laneIndex"/> (and, for a settlement,
    /// <paramref name="consumed"/> of its grant, at most that worst case, so the lane's free grant never shrinks
    /// through a delta).
    /// </summary>
    public void Release(int laneIndex, decimal usd, long tokens, decimal consumed)
    {
        var delta = _deltas.GetValueOrDefault(laneIndex) ?? LaneDelta.Zero(laneIndex, 0);
        _deltas[laneIndex] = delta with
        {
            ReleasedUsd = delta.ReleasedUsd + usd,
            ReleasedTokens = delta.ReleasedTokens + tokens,
            ReleasedCount = delta.ReleasedCount + 1,
            Consumed = delta.Consumed + consumed,
        };
    }

    /// <summary>Applies this row's delta to the lane and starts a new epoch: both rows must be written in this transaction.</summary>
    public void Fold(BudgetLane lane)
    {
        ArgumentNullException.ThrowIfNull(lane);
        var delta = DeltaFor(lane);
        lane.ReservedUsd -= delta.ReleasedUsd;
        lane.ReservedTokens -= delta.ReleasedTokens;
        lane.Open -= delta.ReleasedCount;
        lane.Grant -= delta.Consumed;
        Granted -= _deltas.GetValueOrDefault(lane.Index)?.Consumed ?? 0m;
        lane.Epoch++;
        _deltas[lane.Index] = LaneDelta.Zero(lane.Index, lane.Epoch);
    }

    public bool IsTripped(DateTimeOffset now) => TrippedUntil is { } until && until > now;

    public bool HasFired(string alertKey) => _fired.Contains(alertKey);

    public bool MarkFired(string alertKey)
    {
        if (alertKey.StartsWith(BudgetAlerts.BreakerKey + ":", StringComparison.Ordinal))
        {
            // Only the current breaker window matters for "once per window": older window keys would grow the row
            // with every trip of a long period.
            _fired.RemoveWhere(k => k.StartsWith(BudgetAlerts.BreakerKey + ":", StringComparison.Ordinal) && k != alertKey);
        }

        return _fired.Add(alertKey);
    }

    public void CountLateSettlement() => LateSettlements++;

    /// <summary>
    /// Corrects the cost counted for events whose price changed (a re-pricing): spend moves by the difference and
    /// the events stay counted once. The breaker's short window is left alone (it judged the rate as it was).
    /// </summary>
    public void Reprice(decimal usdDelta, long unpricedDelta)
    {
        SpentUsd += usdDelta;
        UnpricedEvents += unpricedDelta;
    }

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

/// <summary>The persisted form of a <see cref="BudgetPeriodState"/>.</summary>
public sealed record PeriodStateSnapshot
{
    public required string BudgetId { get; init; }
    public required string Subject { get; init; }
    public required PeriodWindow Window { get; init; }
    public int LaneCount { get; init; } = 1;
    public decimal SpentUsd { get; init; }
    public long SpentTokens { get; init; }
    public long UnpricedEvents { get; init; }
    public long EventCount { get; init; }
    public decimal Granted { get; init; }
    public string? LimitVersion { get; init; }
    public DateTimeOffset? SeedCutoff { get; init; }
    public decimal SeedUsd { get; init; }
    public long SeedTokens { get; init; }
    public long SeedEvents { get; init; }
    public long LateSettlements { get; init; }
    public IReadOnlyList<string> Fired { get; init; } = [];
    public IReadOnlyList<LaneDelta> Deltas { get; init; } = [];
    public DateTimeOffset? BreakerWindowStart { get; init; }
    public decimal BreakerWindowSpentUsd { get; init; }
    public DateTimeOffset? TrippedUntil { get; init; }
}

/// <summary>
/// Worst cases (and reservation count, and consumed grant) taken out of one lane by closed reservations since
/// the lane's epoch began, kept on the period state's main row.
/// </summary>
public sealed record LaneDelta(int Lane, long Epoch, decimal ReleasedUsd, long ReleasedTokens, long ReleasedCount, decimal Consumed)
{
    public static LaneDelta Zero(int lane, long epoch) => new(lane, epoch, 0m, 0, 0, 0m);
}

/// <summary>
/// One escrow lane of a period state: the open reservations it holds (sums and count, kept in the same
/// transaction as the reservation rows, less what <see cref="BudgetPeriodState.Deltas"/> says closed since) and
/// the grant it may hand out without touching any other row. Authorisations are its only frequent writer.
/// </summary>
public sealed class BudgetLane(string stateKey, int index)
{
    public string StateKey { get; } = stateKey;
    public int Index { get; } = index;
    public string Key => BudgetKeys.Lane(StateKey, Index);

    /// <summary>Bumped whenever the main row's delta is folded in, so a delta never applies to the wrong version.</summary>
    public long Epoch { get; set; }

    /// <summary>Headroom this lane may reserve from, in the budget's unit (unused by soft budgets).</summary>
    public decimal Grant { get; set; }

    public decimal ReservedUsd { get; set; }
    public long ReservedTokens { get; set; }

    /// <summary>Reservations held in this lane (before the main row's delta).</summary>
    public long Open { get; set; }

    public BudgetLane Copy() => new(StateKey, Index) { Epoch = Epoch, Grant = Grant, ReservedUsd = ReservedUsd, ReservedTokens = ReservedTokens, Open = Open };

    public void Hold(decimal usd, long tokens)
    {
        ReservedUsd += usd;
        ReservedTokens += tokens;
        Open++;
    }

    /// <summary>Open reservations' worst case in USD once <paramref name="state"/>'s delta is applied.</summary>
    public decimal OpenUsd(BudgetPeriodState? state) => ReservedUsd - (state?.DeltaFor(this).ReleasedUsd ?? 0m);

    public long OpenTokens(BudgetPeriodState? state) => ReservedTokens - (state?.DeltaFor(this).ReleasedTokens ?? 0);

    public long OpenCount(BudgetPeriodState? state) => Open - (state?.DeltaFor(this).ReleasedCount ?? 0);

    public decimal Reserved(BudgetDefinition budget, BudgetPeriodState? state) => BudgetUnits.Of(budget, OpenUsd(state), OpenTokens(state));

    /// <summary>Grant not yet used by open reservations or consumed by actual spend.</summary>
    public decimal Free(BudgetDefinition budget, BudgetPeriodState? state) =>
        Grant - (state?.DeltaFor(this).Consumed ?? 0m) - Reserved(budget, state);
}

/// <summary>Spend recorded before a period state existed, read from the usage summaries.</summary>
/// <param name="Cutoff">When the read started: events recorded before it are in this figure (unless still being projected).</param>
public sealed record RecordedSpend(DateTimeOffset Cutoff, decimal CostUsd, long Tokens, long Events, long UnpricedEvents)
{
    public static RecordedSpend None(DateTimeOffset cutoff) => new(cutoff, 0m, 0, 0, 0);
}

/// <summary>What a state needs seeded from: the budget, whose spend (subject) and the elapsed part of the period.</summary>
public sealed record SeedRequest(string StateKey, BudgetDefinition Budget, string Subject, PeriodWindow Window);

public enum ReservationStatus
{
    Active,
    Settled,
    Expired,
    Released,
}

/// <summary>
/// An admitted request's reservation: which lanes hold it, and how it ended. Kept after it ends (for the
/// retention period) so a retried settlement or authorisation is recognised (never double-settled, never
/// double-reserved) and an event naming it can be checked.
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

    /// <summary>Lane keys holding the worst case (one per stateful budget that applied).</summary>
    public required IReadOnlyList<string> HeldIn { get; init; }

    public ReservationStatus Status { get; init; } = ReservationStatus.Active;
    public string? SettledEventId { get; init; }
    public decimal? SettledCostUsd { get; init; }

    /// <summary>True when the settling event arrived after the reservation had expired or been released.</summary>
    public bool SettledLate { get; init; }

    public DateTimeOffset? ClosedAt { get; init; }
}
