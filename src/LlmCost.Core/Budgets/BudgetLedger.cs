// Long on purpose: every ledger command (authorise, settle, close, open, freeze, reset) next to the partition it
// changes and the StateView they share, so a reader sees in one place every way a budget row can change.
using LlmCost.Core.Alerts;
using LlmCost.Core.Audit;

namespace LlmCost.Core.Budgets;

/// <summary>
/// The rows of one tenant's budget partition that a batch of ledger commands reads and changes. The storage
/// adapter loads the keys the commands ask for, lets the commands apply (pure, in memory), then writes every
/// changed row in one entity-group transaction guarded by the ETags it read. A command that finds it needs rows
/// not loaded yet (<see cref="Require"/>), rows read from storage rather than a cache (<see cref="RequireFresh"/>)
/// or a seed (<see cref="SeedRequests"/>) asks for them; the adapter then discards this partition, loads what
/// was asked and applies the whole batch again. Commands therefore carry pre-generated ids and never depend on
/// how often they run; the last application counts.
/// </summary>
public sealed class LedgerPartition(string tenantId)
{
    public string TenantId { get; } = tenantId;
    public Dictionary<string, BudgetPeriodState> States { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, BudgetLane> Lanes { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, ReservationRecord> Reservations { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, FreezeRecord> Freezes { get; } = new(StringComparer.Ordinal);

    /// <summary>Applied-event markers loaded (key to when the event was applied).</summary>
    public Dictionary<string, DateTimeOffset> AppliedEvents { get; } = new(StringComparer.Ordinal);

    /// <summary>Keys looked up, whether found or not.</summary>
    public HashSet<string> Loaded { get; } = new(StringComparer.Ordinal);

    /// <summary>Keys read from storage for this attempt (not taken from an instance cache).</summary>
    public HashSet<string> Fresh { get; } = new(StringComparer.Ordinal);

    /// <summary>Keys of states, lanes, reservations and freezes to write (freezes absent from <see cref="Freezes"/> are deleted).</summary>
    public HashSet<string> Changed { get; } = new(StringComparer.Ordinal);

    /// <summary>Index rows to delete (the expiry entry of a reservation that closed).</summary>
    public HashSet<string> Deleted { get; } = new(StringComparer.Ordinal);

    /// <summary>Expiry index rows to add, by key, with the reservation they index.</summary>
    public Dictionary<string, ReservationRecord> NewExpiries { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, Alert> NewAlerts { get; } = new(StringComparer.Ordinal);

    /// <summary>Applied-event markers to add (key to when the event was applied).</summary>
    public Dictionary<string, DateTimeOffset> NewEventMarkers { get; } = new(StringComparer.Ordinal);

    public List<AuditEntry> NewAuditEntries { get; } = [];

    /// <summary>Seeds read for states that did not exist yet (kept by the adapter across re-applications).</summary>
    public Dictionary<string, RecordedSpend> Seeds { get; } = new(StringComparer.Ordinal);

    public HashSet<string> Missing { get; } = new(StringComparer.Ordinal);
    public HashSet<string> NeedFresh { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, SeedRequest> SeedRequests { get; } = new(StringComparer.Ordinal);

    /// <summary>True when a command asked for something this partition does not hold: apply again after loading it.</summary>
    public bool Incomplete => Missing.Count > 0 || NeedFresh.Count > 0 || SeedRequests.Count > 0;

    /// <summary>Rows the transaction would write.</summary>
    public int Writes => Changed.Count + Deleted.Count + NewExpiries.Count + NewAlerts.Count + NewEventMarkers.Count + NewAuditEntries.Count;

    /// <summary>True when every key is loaded; otherwise asks for the missing ones.</summary>
    public bool Require(IEnumerable<string> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var complete = true;
        foreach (var key in keys)
        {
            if (!Loaded.Contains(key))
            {
                Missing.Add(key);
                complete = false;
            }
        }

        return complete;
    }

    /// <summary>True when every key was read from storage in this attempt; otherwise asks for a fresh read.</summary>
    public bool RequireFresh(IEnumerable<string> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var complete = true;
        foreach (var key in keys)
        {
            if (!Fresh.Contains(key))
            {
                NeedFresh.Add(key);
                complete = false;
            }
        }

        return complete;
    }

    /// <summary>Removes a reservation's expiry index row: not written at all if this batch was about to add it.</summary>
    public void DropExpiry(string expiryKey)
    {
        if (!NewExpiries.Remove(expiryKey))
        {
            Deleted.Add(expiryKey);
        }
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
/// <param name="Lane">The lane this attempt reserves in (the adapter spreads instances and committers over lanes).</param>
/// <param name="LaneCount">Lanes a new period state gets.</param>
public sealed record LedgerContext(DateTimeOffset Now, int Lane = 0, int LaneCount = LedgerLimits.DefaultLanes);

/// <summary>One change to a tenant's budget partition. Apply may run several times (after conflicts or reloads); the last run counts.</summary>
public abstract class LedgerCommand
{
    public abstract string TenantId { get; }

    /// <summary>Keys worth loading before the first application (an optimisation: Apply asks for anything else).</summary>
    public virtual IEnumerable<string> RequiredKeys(LedgerPartition partition, LedgerContext context) => [];

    public abstract void Apply(LedgerPartition partition, LedgerContext context);

    /// <summary>
    /// Rows this command usually writes: a committer takes commands from its queue until their estimates fill one
    /// transaction, so it loads only what it can commit (the exact count is checked after applying).
    /// </summary>
    public virtual int EstimatedRows => 2;

    /// <summary>
    /// Called when this command alone needs more rows than one transaction holds. A command that can answer with a
    /// decision instead (a denial) does so and returns true; otherwise the write fails as unavailable (503).
    /// </summary>
    public virtual bool Overflow(int writes) => false;

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

    /// <summary>Main-row keys of the stateful budgets at an instant, and the lane of this attempt when the main row is known.</summary>
    internal static IEnumerable<string> StateKeys(LedgerPartition partition, IReadOnlyList<BudgetDefinition> budgets, string userId, DateTimeOffset at, LedgerContext context, bool withLane)
    {
        foreach (var budget in budgets)
        {
            if (BudgetPeriodCalculator.WindowFor(budget, at) is not { } window)
            {
                continue;
            }

            var key = BudgetKeys.State(budget.BudgetId, budget.SubjectFor(userId), window.Key);
            yield return key;
            if (withLane)
            {
                var lanes = partition.States.TryGetValue(key, out var state) ? state.LaneCount : context.LaneCount;
                yield return BudgetKeys.Lane(key, context.Lane % lanes);
            }
        }
    }

    /// <summary>
    /// Opens the period state of every stateful budget at an instant (creating it, seeded when it is the budget's
    /// first period and began before the budget existed) and, when asked, the lane of this attempt. Null when
    /// something must be loaded first.
    /// </summary>
    internal static List<StateView>? OpenViews(LedgerPartition partition, IReadOnlyList<BudgetDefinition> budgets, string userId, DateTimeOffset at, LedgerContext context, bool withLane)
    {
        var views = new List<StateView>();
        var complete = true;
        foreach (var budget in budgets)
        {
            if (BudgetPeriodCalculator.WindowFor(budget, at) is not { } window)
            {
                continue;
            }

            var subject = budget.SubjectFor(userId);
            var key = BudgetKeys.State(budget.BudgetId, subject, window.Key);
            if (!partition.Require([key]))
            {
                complete = false;
                continue;
            }

            var created = false;
            if (!partition.States.TryGetValue(key, out var state))
            {
                created = true;
                state = new BudgetPeriodState(budget.BudgetId, subject, window, context.LaneCount) { LimitVersion = BudgetUnits.LimitVersion(budget) };
                if (NeedsSeed(budget, window))
                {
                    if (!partition.Seeds.TryGetValue(key, out var seed))
                    {
                        partition.SeedRequests[key] = new SeedRequest(key, budget, subject, window);
                        complete = false;
                        continue;
                    }

                    state.Seed(seed);
                    // A seed is worth keeping even if this command ends up writing nothing else.
                    partition.Changed.Add(key);
                }

                partition.States[key] = state;
            }

            BudgetLane? lane = null;
            if (withLane)
            {
                var laneKey = BudgetKeys.Lane(key, context.Lane % state.LaneCount);
                if (!partition.Require([laneKey]))
                {
                    complete = false;
                    continue;
                }

                lane = GetOrAddLane(partition, laneKey);
            }

            views.Add(new StateView(budget, state, lane) { Created = created });
        }

        return complete ? views : null;
    }

    /// <summary>A budget's first period that began before the budget existed starts from the spend already recorded in it.</summary>
    internal static bool NeedsSeed(BudgetDefinition budget, PeriodWindow window) =>
        window.Start < budget.CreatedAt && window.Contains(budget.CreatedAt);

    internal static BudgetLane GetOrAddLane(LedgerPartition partition, string laneKey)
    {
        if (!partition.Lanes.TryGetValue(laneKey, out var lane))
        {
            var separator = laneKey.LastIndexOf('|');
            lane = new BudgetLane(laneKey[..separator], int.Parse(laneKey.AsSpan(separator + 2), System.Globalization.CultureInfo.InvariantCulture));
            partition.Lanes[laneKey] = lane;
        }

        return lane;
    }

    /// <summary>
    /// Recomputes the grants under the definition's current limit: every lane keeps exactly what it has reserved
    /// (free 0) and the rest returns to the pool, so a lowered limit binds at once. False when lanes must be loaded.
    /// </summary>
    internal static bool Rebase(LedgerPartition partition, StateView view)
    {
        if (!view.LoadAllLanes(partition))
        {
            return false;
        }

        var enforced = BudgetUnits.Enforced(view.Budget);
        foreach (var lane in view.AllLanes!)
        {
            view.State.Fold(lane);
            lane.Grant = enforced ? Math.Max(0m, lane.Reserved(view.Budget, view.State)) : 0m;
            partition.Changed.Add(lane.Key);
        }

        view.State.Granted = view.AllLanes.Sum(l => l.Grant);
        view.State.LimitVersion = BudgetUnits.LimitVersion(view.Budget);
        partition.Changed.Add(view.State.Key);
        return true;
    }

    /// <summary>Rebases every view whose grants were computed under another version of its limit. False when lanes must be loaded.</summary>
    internal static bool RebaseOutdated(LedgerPartition partition, IEnumerable<StateView> views)
    {
        var complete = true;
        foreach (var view in views)
        {
            if (BudgetUnits.IsOutdated(view.State.LimitVersion, view.Budget) && !Rebase(partition, view))
            {
                complete = false;
            }
        }

        return complete;
    }
}

/// <summary>One budget's period state as a command sees it: the main row, this attempt's lane, and all lanes once loaded.</summary>
internal sealed class StateView(BudgetDefinition budget, BudgetPeriodState state, BudgetLane? lane)
{
    public BudgetDefinition Budget { get; } = budget;
    public BudgetPeriodState State { get; } = state;
    public BudgetLane? Lane { get; } = lane;
    public List<BudgetLane>? AllLanes { get; private set; }
    public bool Enforced => BudgetUnits.Enforced(Budget);

    /// <summary>True when the main row did not exist before this command.</summary>
    public bool Created { get; init; }

    /// <summary>Acknowledged spend the rows do not count yet, in the budget's unit (an authorisation adds it).</summary>
    public decimal Unapplied { get; set; }

    public bool LoadAllLanes(LedgerPartition partition)
    {
        if (AllLanes is not null)
        {
            return true;
        }

        var keys = BudgetKeys.Lanes(State.Key, State.LaneCount).ToList();
        if (!partition.Require(keys))
        {
            return false;
        }

        AllLanes = keys.Select(k => LedgerCommand.GetOrAddLane(partition, k)).ToList();
        return true;
    }

    public IEnumerable<string> AllKeys => BudgetKeys.Lanes(State.Key, State.LaneCount).Prepend(State.Key);

    public decimal Free(BudgetLane lane) => lane.Free(Budget, State);

    /// <summary>
    /// Headroom this decision may use, in the budget's unit. Enforced budgets: this lane's free grant plus the pool
    /// (every lane's free grant once all are loaded); soft budgets: what is left after spend and every loaded
    /// lane's reservations (they never block, the figure only words the answer).
    /// </summary>
    public decimal Available()
    {
        if (!Enforced)
        {
            return Remaining();
        }

        var pool = State.Pool(Budget);
        return AllLanes is { } all ? pool + all.Sum(Free) : Math.Max(0m, pool) + (Lane is null ? 0m : Free(Lane));
    }

    /// <summary>Limit minus spend minus open reservations: exact once all lanes are loaded, else a lower bound (enforced budgets).</summary>
    public decimal Remaining()
    {
        var limit = BudgetUnits.Limit(Budget);
        if (AllLanes is { } all)
        {
            return limit - State.Spent(Budget) - all.Sum(l => l.Reserved(Budget, State));
        }

        return Enforced
            ? Math.Max(0m, State.Pool(Budget)) + (Lane is null ? 0m : Free(Lane))
            : limit - State.Spent(Budget) - (Lane?.Reserved(Budget, State) ?? 0m);
    }

    public BudgetSlot Slot() => new(Budget, State.Subject, State) { Available = Available() - Unapplied, Remaining = Remaining() - Unapplied };

    /// <summary>Folds the main row's delta into a lane this transaction will write (and so writes the main row too).</summary>
    public void Touch(LedgerPartition partition, BudgetLane lane)
    {
        State.Fold(lane);
        partition.Changed.Add(lane.Key);
        partition.Changed.Add(State.Key);
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

    /// <summary>Ids a retry of the same caller request id may already hold (this UTC day's and the previous one's).</summary>
    public IReadOnlyList<string> ReplayIds { get; init; } = [];

    public required TimeSpan ReservationTtl { get; init; }

    /// <summary>Usage this instance acknowledged that the rows read may not count yet (added to their spend).</summary>
    public UnappliedSnapshot Unapplied { get; init; } = UnappliedSnapshot.Empty;
}

public sealed class AuthorizeCommand(AuthorizationWork work) : LedgerCommand
{
    public AuthorizationWork Work { get; } = work;
    public AuthorizationDecision? Result { get; private set; }
    public override string TenantId => Work.TenantId;

    private IEnumerable<string> ReplayKeys => Work.ReplayIds.Select(BudgetKeys.Reservation);

    /// <summary>The reservation, its expiry row and a lane per period budget.</summary>
    public override int EstimatedRows => 2 + Work.Budgets.Count(b => b.IsStateful);

    public override IEnumerable<string> RequiredKeys(LedgerPartition partition, LedgerContext context) =>
        StateKeys(partition, Work.Budgets, Work.UserId, context.Now, context, withLane: true)
            .Concat(FreezeKeys(Work.UserId, Work.TeamId, Work.KeyId))
            .Concat(ReplayKeys);

    public override bool Overflow(int writes)
    {
        Result = new AuthorizationDecision
        {
            Outcome = AuthorizationOutcome.Deny,
            Reason = $"this request would change {writes} budget rows, more than one storage transaction holds; reduce the budgets that apply to it",
        };
        return true;
    }

    public override void Apply(LedgerPartition partition, LedgerContext context)
    {
        ArgumentNullException.ThrowIfNull(partition);
        ArgumentNullException.ThrowIfNull(context);
        Result = null;
        var now = context.Now;

        if (Work.Budgets.Count(b => b.IsStateful) > LedgerLimits.MaxApplicableBudgets)
        {
            Result = new AuthorizationDecision
            {
                Outcome = AuthorizationOutcome.Deny,
                Reason = $"{Work.Budgets.Count(b => b.IsStateful)} period budgets apply to this request; at most {LedgerLimits.MaxApplicableBudgets} can be enforced together",
            };
            return;
        }

        // Reservations are never taken from a cache: a retry must see the one its first attempt wrote.
        if (!partition.RequireFresh(ReplayKeys))
        {
            return;
        }

        var views = OpenViews(partition, Work.Budgets, Work.UserId, now, context, withLane: true);
        if (views is null || !RebaseOutdated(partition, views))
        {
            return;
        }

        foreach (var view in views)
        {
            view.Unapplied = Work.Unapplied.UnitsFor(view.Budget, view.State);
        }

        if (ReplayKeys.Select(k => partition.Reservations.GetValueOrDefault(k)).OfType<ReservationRecord>().FirstOrDefault() is { } existing)
        {
            // A retry of an admitted request: answer as before, reserve nothing more.
            Result = new AuthorizationDecision
            {
                Outcome = existing.Outcome,
                ReservationId = existing.ReservationId,
                ReservedUsd = existing.AmountUsd,
                ReservedTokens = existing.Tokens,
                ExpiresAt = existing.ExpiresAt,
                SuggestedProvider = existing.Outcome == AuthorizationOutcome.Downgrade ? existing.Provider : null,
                SuggestedModel = existing.Outcome == AuthorizationOutcome.Downgrade ? existing.Model : null,
                Budgets = Standings(views),
                Replayed = true,
            };
            return;
        }

        // Soft budgets never block; their answer counts every lane's reservations (cached rows are good enough).
        var complete = true;
        foreach (var soft in views.Where(v => !v.Enforced))
        {
            complete &= soft.LoadAllLanes(partition);
        }

        if (!complete)
        {
            return;
        }

        var freezeKeys = FreezeKeys(Work.UserId, Work.TeamId, Work.KeyId).ToList();
        var verdict = Decide(partition, views, freezeKeys, now);

        // A lane and the pool are what this attempt can use without touching other lanes; when that does not fit an
        // enforced budget, look at every lane (a gather) before refusing.
        var blocked = views.Where(v => v.Enforced && v.AllLanes is null && !BudgetAuthorizer.Fits(v.Slot(), Work.Requested)).ToList();
        if (blocked.Count > 0 && verdict.Outcome != AuthorizationOutcome.Allow && !IsFrozen(partition, freezeKeys))
        {
            foreach (var view in blocked)
            {
                complete &= view.LoadAllLanes(partition);
            }

            if (!complete)
            {
                return;
            }

            verdict = Decide(partition, views, freezeKeys, now);
        }

        // A refusal writes nothing, so nothing would catch a stale cached row: it must stand on rows read now.
        if (verdict.Outcome != AuthorizationOutcome.Allow && !ConfirmedFresh(partition, views, freezeKeys, now))
        {
            return;
        }

        if (verdict.Outcome == AuthorizationOutcome.Deny || verdict.Admitted is null)
        {
            Result = new AuthorizationDecision
            {
                Outcome = AuthorizationOutcome.Deny,
                Budgets = Standings(views),
                Reason = verdict.Reason,
                LimitingBudgetId = verdict.LimitingBudgetId,
            };
            return;
        }

        var admitted = verdict.Admitted;
        var amountUsd = admitted.Priced ? admitted.WorstCaseUsd : 0m;
        var expiresAt = now + Work.ReservationTtl;
        var heldIn = new List<string>();
        foreach (var view in views)
        {
            var lane = view.Lane!;
            var units = BudgetUnits.Of(view.Budget, amountUsd, admitted.WorstCaseTokens);
            if (view.Enforced && view.Free(lane) < units)
            {
                Provision(partition, view, units - view.Free(lane));
            }

            if (view.Created)
            {
                // The main row exists whenever a lane does: closing a reservation writes its delta there.
                partition.Changed.Add(view.State.Key);
            }

            lane.Hold(amountUsd, admitted.WorstCaseTokens);
            partition.Changed.Add(lane.Key);
            heldIn.Add(lane.Key);
        }

        string? reservationId = null;
        if (heldIn.Count > 0)
        {
            reservationId = Work.ReservationId;
            var key = BudgetKeys.Reservation(reservationId);
            var record = new ReservationRecord
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
            partition.Reservations[key] = record;
            partition.Changed.Add(key);
            partition.NewExpiries[BudgetKeys.Expiry(expiresAt, reservationId)] = record;
        }

        Result = new AuthorizationDecision
        {
            Outcome = verdict.Outcome,
            ReservationId = reservationId,
            ReservedUsd = reservationId is null ? 0m : amountUsd,
            ReservedTokens = reservationId is null ? 0 : admitted.WorstCaseTokens,
            ExpiresAt = reservationId is null ? null : expiresAt,
            SuggestedProvider = verdict.Outcome == AuthorizationOutcome.Downgrade ? verdict.Provider : null,
            SuggestedModel = verdict.Outcome == AuthorizationOutcome.Downgrade ? verdict.Model : null,
            Budgets = Standings(views),
            Reason = verdict.Reason,
            LimitingBudgetId = verdict.LimitingBudgetId,
        };
    }

    private AuthorizationVerdict Decide(LedgerPartition partition, List<StateView> views, List<string> freezeKeys, DateTimeOffset now)
    {
        var freezes = freezeKeys.Select(k => partition.Freezes.GetValueOrDefault(k)).OfType<FreezeRecord>().ToList();
        return BudgetAuthorizer.Decide(Slots(views), freezes, Work.Provider, Work.Model, Work.Requested, Work.Candidates, now);
    }

    private static bool IsFrozen(LedgerPartition partition, List<string> freezeKeys) => freezeKeys.Any(partition.Freezes.ContainsKey);

    /// <summary>Per-request budgets as slots without state, then the period budgets' views.</summary>
    private List<BudgetSlot> Slots(List<StateView> views)
    {
        var byKey = views.ToDictionary(v => v.Budget.BudgetId, StringComparer.Ordinal);
        return Work.Budgets.Select(b => byKey.TryGetValue(b.BudgetId, out var view) ? view.Slot() : new BudgetSlot(b, b.SubjectFor(Work.UserId), null)).ToList();
    }

    private List<BudgetStanding> Standings(List<StateView> views) =>
        Slots(views).Select(s => BudgetAuthorizer.Standing(s)).ToList();

    /// <summary>Asks for a fresh read of every row the refusal depends on; true when they are fresh already.</summary>
    private bool ConfirmedFresh(LedgerPartition partition, List<StateView> views, List<string> freezeKeys, DateTimeOffset now)
    {
        var keys = new List<string>();
        if (IsFrozen(partition, freezeKeys))
        {
            keys.AddRange(freezeKeys);
        }
        else
        {
            foreach (var view in views)
            {
                if (view.State.IsTripped(now))
                {
                    keys.Add(view.State.Key);
                }
                else if (view.Enforced && !BudgetAuthorizer.Fits(view.Slot(), Work.Requested))
                {
                    // The main row and every lane, read in one query: one consistent snapshot of the budget.
                    keys.AddRange(view.AllKeys);
                }
            }
        }

        return partition.RequireFresh(keys);
    }

    /// <summary>
    /// Gives this attempt's lane at least <paramref name="need"/> more free grant: a share of the pool when it
    /// holds enough (one more row, the main one), else the pool plus other lanes' free grant (a gather, all lanes
    /// loaded by the decision). The decision checked that enough exists.
    /// </summary>
    private static void Provision(LedgerPartition partition, StateView view, decimal need)
    {
        var lane = view.Lane!;
        var state = view.State;
        view.Touch(partition, lane);
        var pool = state.Pool(view.Budget);
        if (pool >= need)
        {
            // A share of what is left (a sixteenth with 8 lanes), so a lane refills rarely far from the limit and
            // in small steps near it.
            var amount = Math.Max(need, Math.Min(pool, pool / (2 * state.LaneCount)));
            lane.Grant += amount;
            state.Granted += amount;
            return;
        }

        if (pool > 0m)
        {
            lane.Grant += pool;
            state.Granted += pool;
            need -= pool;
        }

        foreach (var other in view.AllLanes!.Where(l => l.Key != lane.Key).OrderByDescending(view.Free))
        {
            if (need <= 0m)
            {
                break;
            }

            var take = Math.Min(view.Free(other), need);
            if (take <= 0m)
            {
                break;
            }

            view.Touch(partition, other);
            other.Grant -= take;
            lane.Grant += take;
            need -= take;
        }
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

    /// <summary>When the event was acknowledged: an event recorded before a state's seed cutoff is already in its seed.</summary>
    public DateTimeOffset RecordedAt { get; init; }

    public required decimal CostUsd { get; init; }
    public required bool Priced { get; init; }
    public required long Tokens { get; init; }
    public required IReadOnlyList<BudgetDefinition> Budgets { get; init; }

    /// <summary>All of the tenant's budgets: the key budgets of the reservation's key apply too.</summary>
    public IReadOnlyList<BudgetDefinition> TenantBudgets { get; init; } = [];
}

public enum SettlementOutcome
{
    /// <summary>Counted now (and its reservation, if any, released).</summary>
    Applied,

    /// <summary>Already counted before: nothing changed.</summary>
    Duplicate,
}

/// <param name="Late">The reservation had expired or been released before this event settled it (its cost still counts).</param>
public sealed record SettlementResult(SettlementOutcome Outcome, bool ReservationReleased, IReadOnlyList<Alert> Alerts, bool Late = false, TimeSpan? ReservationAge = null);

public sealed class SettleCommand(SettlementWork work) : LedgerCommand
{
    public SettlementWork Work { get; } = work;
    public SettlementResult? Result { get; private set; }
    public override string TenantId => Work.TenantId;

    private string EventKey => BudgetKeys.AppliedEvent(Work.EventId, Work.Timestamp);

    /// <summary>The marker, the reservation and its expiry row, and the main rows (shared with the batch).</summary>
    public override int EstimatedRows => Work.ReservationId is null ? 1 : 3;

    private string? ReservationKey => Work.ReservationId is null ? null : BudgetKeys.Reservation(Work.ReservationId);

    /// <summary>The event's budgets, plus the key budgets of the key its reservation was made with.</summary>
    private IReadOnlyList<BudgetDefinition> BudgetsFor(ReservationRecord? reservation)
    {
        if (Work.KeyId is null && reservation?.KeyId is { } keyId)
        {
            return BudgetService.Applicable(Work.TenantBudgets, Work.UserId, Work.TeamId, keyId);
        }

        return Work.Budgets;
    }

    public override IEnumerable<string> RequiredKeys(LedgerPartition partition, LedgerContext context)
    {
        ArgumentNullException.ThrowIfNull(partition);
        ArgumentNullException.ThrowIfNull(context);
        yield return EventKey;
        if (ReservationKey is { } reservationKey)
        {
            yield return reservationKey;
        }

        foreach (var key in StateKeys(partition, Work.Budgets, Work.UserId, Work.Timestamp, context, withLane: false))
        {
            yield return key;
        }
    }

    public override void Apply(LedgerPartition partition, LedgerContext context)
    {
        ArgumentNullException.ThrowIfNull(partition);
        ArgumentNullException.ThrowIfNull(context);
        Result = null;

        // Markers and reservations are never taken from a cache: exactly-once rests on them.
        if (!partition.RequireFresh(ReservationKey is { } rk ? [EventKey, rk] : [EventKey]))
        {
            return;
        }

        if (partition.AppliedEvents.ContainsKey(EventKey))
        {
            Result = new SettlementResult(SettlementOutcome.Duplicate, false, []);
            return;
        }

        var reservation = ReservationKey is null ? null : partition.Reservations.GetValueOrDefault(ReservationKey);
        if (reservation is not null && (reservation.TenantId != Work.TenantId || reservation.UserId != Work.UserId))
        {
            // Refused before recording (the admission check); never let another user's event release a hold.
            reservation = null;
        }

        var views = OpenViews(partition, BudgetsFor(reservation), Work.UserId, Work.Timestamp, context, withLane: false);
        var holders = reservation is { Status: ReservationStatus.Active }
            ? reservation.HeldIn.Select(BudgetKeys.StateOfLane).Distinct(StringComparer.Ordinal).ToList()
            : [];
        if (views is null || !partition.Require(holders) || !RebaseOutdated(partition, views))
        {
            return;
        }

        var released = false;
        var late = false;
        TimeSpan? age = null;
        if (reservation is not null)
        {
            age = context.Now - reservation.CreatedAt;
            switch (reservation.Status)
            {
                case ReservationStatus.Active:
                    foreach (var laneKey in reservation.HeldIn)
                    {
                        var stateKey = BudgetKeys.StateOfLane(laneKey);
                        if (!partition.States.TryGetValue(stateKey, out var holder))
                        {
                            continue;
                        }

                        // The reservation's grant pays the actual cost (up to its worst case) when the event counts
                        // in the same state; what it did not use stays free in its lane.
                        var consumed = 0m;
                        if (views.FirstOrDefault(v => v.State.Key == stateKey) is { Enforced: true } same && !same.State.InSeed(Work.RecordedAt))
                        {
                            consumed = Math.Min(
                                BudgetUnits.Of(same.Budget, Work.CostUsd, Work.Tokens),
                                BudgetUnits.Of(same.Budget, reservation.AmountUsd, reservation.Tokens));
                        }

                        holder.Release(BudgetKeys.LaneIndex(laneKey), reservation.AmountUsd, reservation.Tokens, consumed);
                        partition.Changed.Add(stateKey);
                    }

                    released = true;
                    partition.Reservations[ReservationKey!] = reservation with
                    {
                        Status = ReservationStatus.Settled,
                        SettledEventId = Work.EventId,
                        SettledCostUsd = Work.CostUsd,
                        ClosedAt = context.Now,
                    };
                    partition.Changed.Add(ReservationKey!);
                    partition.DropExpiry(BudgetKeys.Expiry(reservation.ExpiresAt, reservation.ReservationId));
                    break;
                case ReservationStatus.Expired or ReservationStatus.Released when reservation.SettledEventId is null:
                    // Its worst case stopped counting when it closed; the actual cost counts now, and is visible.
                    late = true;
                    partition.Reservations[ReservationKey!] = reservation with
                    {
                        SettledEventId = Work.EventId,
                        SettledCostUsd = Work.CostUsd,
                        SettledLate = true,
                    };
                    partition.Changed.Add(ReservationKey!);
                    break;
                default:
                    // Settled by another event already: nothing to release; this event's cost still counts below.
                    break;
            }
        }

        var alerts = new List<Alert>();
        foreach (var view in views)
        {
            var state = view.State;
            if (state.InSeed(Work.RecordedAt))
            {
                // Recorded before this state was seeded: the seed already holds it.
                continue;
            }

            var tripped = state.AddSpend(Work.CostUsd, Work.Tokens, Work.Priced, context.Now, view.Budget.CircuitBreaker);
            if (late)
            {
                state.CountLateSettlement();
            }

            partition.Changed.Add(state.Key);
            var overcommitted = 0m;
            if (view.Enforced && !CoverDeficit(partition, view, out overcommitted))
            {
                return;
            }

            alerts.AddRange(BudgetAlerts.Evaluate(view.Budget, state, context.Now, tripped, overcommitted));
        }

        partition.AppliedEvents[EventKey] = context.Now;
        partition.NewEventMarkers[EventKey] = context.Now;
        partition.AddAlerts(alerts);
        Result = new SettlementResult(SettlementOutcome.Applied, released, alerts, late, age);
    }

    /// <summary>
    /// Keeps the escrow invariant after actual spend: spend beyond a reservation's worst case, or without one,
    /// comes out of the pool, and a pool that went negative (near the limit) takes it back from every lane's free
    /// grant. When even that does not cover it, the budget is overcommitted: every lane is left with no free
    /// grant, so nothing more is admitted, and the overspend alert says by how much
    /// (<paramref name="overcommitted"/>: spend plus open reservations beyond the limit). False when the lanes must
    /// be loaded first.
    /// </summary>
    internal static bool CoverDeficit(LedgerPartition partition, StateView view, out decimal overcommitted)
    {
        overcommitted = 0m;
        var state = view.State;
        if (state.Pool(view.Budget) >= 0m)
        {
            return true;
        }

        if (!view.LoadAllLanes(partition))
        {
            return false;
        }

        var missing = -state.Pool(view.Budget);
        foreach (var lane in view.AllLanes!.OrderByDescending(view.Free))
        {
            var take = Math.Min(view.Free(lane), missing);
            if (take <= 0m)
            {
                break;
            }

            view.Touch(partition, lane);
            lane.Grant -= take;
            state.Granted -= take;
            missing -= take;
        }

        overcommitted = missing;
        return true;
    }
}

/// <summary>
/// Closes open reservations and removes their worst case from the lanes holding them: at their expiry (the sweep),
/// or at once when the caller releases one it will not use (or a user's data is erased).
/// </summary>
public sealed class CloseReservationsCommand(string tenantId, IReadOnlyList<string> reservationIds, ReservationStatus closeAs, string? userId = null) : LedgerCommand
{
    public IReadOnlyList<string> ReservationIds { get; } = reservationIds;
    public override string TenantId { get; } = tenantId;

    /// <summary>Reservations closed by this command (the last application).</summary>
    public List<ReservationRecord> Closed { get; } = [];

    /// <summary>Each reservation and its expiry row, plus the main rows holding them.</summary>
    public override int EstimatedRows => (2 * ReservationIds.Count) + 2;

    public override IEnumerable<string> RequiredKeys(LedgerPartition partition, LedgerContext context) =>
        ReservationIds.Select(BudgetKeys.Reservation);

    public override void Apply(LedgerPartition partition, LedgerContext context)
    {
        ArgumentNullException.ThrowIfNull(partition);
        ArgumentNullException.ThrowIfNull(context);
        Closed.Clear();
        var keys = ReservationIds.Select(BudgetKeys.Reservation).ToList();
        if (!partition.RequireFresh(keys))
        {
            return;
        }

        var closing = keys.Select(k => partition.Reservations.GetValueOrDefault(k))
            .OfType<ReservationRecord>()
            .Where(r => r.Status == ReservationStatus.Active
                && (closeAs != ReservationStatus.Expired || r.ExpiresAt <= context.Now)
                && (userId is null || r.UserId == userId))
            .ToList();

        // The worst case leaves through the main row's delta: the lanes, which authorisations write, stay untouched.
        if (!partition.Require(closing.SelectMany(r => r.HeldIn).Select(BudgetKeys.StateOfLane).Distinct(StringComparer.Ordinal)))
        {
            return;
        }

        foreach (var reservation in closing)
        {
            foreach (var laneKey in reservation.HeldIn)
            {
                if (partition.States.TryGetValue(BudgetKeys.StateOfLane(laneKey), out var holder))
                {
                    holder.Release(BudgetKeys.LaneIndex(laneKey), reservation.AmountUsd, reservation.Tokens, 0m);
                    partition.Changed.Add(holder.Key);
                }
            }

            var key = BudgetKeys.Reservation(reservation.ReservationId);
            partition.Reservations[key] = reservation with { Status = closeAs, ClosedAt = context.Now };
            partition.Changed.Add(key);
            partition.DropExpiry(BudgetKeys.Expiry(reservation.ExpiresAt, reservation.ReservationId));
            Closed.Add(reservation);
        }
    }
}

/// <summary>
/// Creates a budget's current period state (seeded with the spend recorded so far in the period when the budget
/// starts mid-period), so the seed is read when the budget is created rather than by its first authorisation.
/// </summary>
public sealed class OpenStateCommand(BudgetDefinition budget, string subject) : LedgerCommand
{
    public override string TenantId => budget.TenantId;

    public override IEnumerable<string> RequiredKeys(LedgerPartition partition, LedgerContext context) =>
        StateKeys(partition, [budget], subject, context.Now, context, withLane: false);

    public override void Apply(LedgerPartition partition, LedgerContext context)
    {
        ArgumentNullException.ThrowIfNull(partition);
        ArgumentNullException.ThrowIfNull(context);
        _ = OpenViews(partition, [budget], subject, context.Now, context, withLane: false);
    }
}

/// <summary>Freezes or unfreezes a tenant, team, user or key, with its audit line in the same transaction.</summary>
public sealed class SetFreezeCommand(string tenantId, BudgetScope scope, string scopeId, FreezeRecord? freeze, AuditEntry audit) : LedgerCommand
{
    public override string TenantId { get; } = tenantId;
    public bool Changed { get; private set; }

    public override void Apply(LedgerPartition partition, LedgerContext context)
    {
        ArgumentNullException.ThrowIfNull(partition);
        var key = BudgetKeys.Freeze(scope, scopeId);
        if (!partition.RequireFresh([key]))
        {
            return;
        }

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

    public override void Apply(LedgerPartition partition, LedgerContext context)
    {
        ArgumentNullException.ThrowIfNull(partition);
        ArgumentNullException.ThrowIfNull(context);
        WasTripped = false;
        if (BudgetPeriodCalculator.WindowFor(budget, context.Now) is not { } window)
        {
            return;
        }

        var key = BudgetKeys.State(budget.BudgetId, budget.SubjectFor(subject), window.Key);
        if (!partition.RequireFresh([key]) || !partition.States.TryGetValue(key, out var state))
        {
            return;
        }

        WasTripped = state.IsTripped(context.Now);
        state.ResetBreaker();
        partition.Changed.Add(state.Key);
        partition.NewAuditEntries.Add(audit);
    }
}
