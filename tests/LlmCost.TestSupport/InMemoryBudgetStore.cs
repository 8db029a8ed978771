using LlmCost.Core.Alerts;
using LlmCost.Core.Audit;

namespace LlmCost.Core.Budgets;

/// <summary>
/// The budget ports in memory (one lock = one serialised writer): the reference the Table Storage adapter is
/// tested against, and what the benchmark uses to measure in-process overhead without storage round trips.
/// Every command runs on the next lane in turn, so the escrow paths (refill, gather, cover) run here as they do
/// when instances compete.
/// </summary>
public sealed class InMemoryBudgetStore(TimeProvider time, IBudgetSpendHistory? history = null, int laneCount = LedgerLimits.DefaultLanes)
    : IBudgetRepository, IBudgetLedger, IPendingAlertSource
{
    private const int MaxRounds = 8;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, BudgetDefinition> _budgets = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Tenant, string Key), BudgetPeriodState> _states = [];
    private readonly Dictionary<(string Tenant, string Key), BudgetLane> _lanes = [];
    private readonly Dictionary<(string Tenant, string Key), ReservationRecord> _reservations = [];
    private readonly Dictionary<(string Tenant, string Key), FreezeRecord> _freezes = [];
    private readonly Dictionary<(string Tenant, string Key), DateTimeOffset> _events = [];
    private readonly SortedSet<(string Tenant, string Key)> _expiries = new(Comparer<(string Tenant, string Key)>.Create(
        (a, b) => string.CompareOrdinal(a.Tenant, b.Tenant) is var c and not 0 ? c : string.CompareOrdinal(a.Key, b.Key)));

    private readonly Dictionary<(string Tenant, string Key), string> _reservationOfExpiry = [];
    private readonly Dictionary<string, (Alert Alert, bool Dispatched, long Sequence)> _alerts = new(StringComparer.Ordinal);
    private readonly List<AuditEntry> _audit = [];
    private readonly HashSet<string> _tenants = new(StringComparer.Ordinal);
    private long _sequence;
    private int _lane;

    public Task<BudgetDefinition?> GetAsync(string budgetId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult(_budgets.GetValueOrDefault(budgetId));
        }
    }

    public Task<IReadOnlyList<BudgetDefinition>> ListAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<BudgetDefinition>>(_budgets.Values.Where(b => b.TenantId == tenantId).OrderBy(b => b.BudgetId, StringComparer.Ordinal).ToList());
        }
    }

    public Task<bool> SaveAsync(BudgetDefinition budget, AuditEntry audit, bool create, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(budget);
        lock (_lock)
        {
            if (_budgets.ContainsKey(budget.BudgetId) == create)
            {
                return Task.FromResult(false);
            }

            _budgets[budget.BudgetId] = budget;
            _audit.Add(audit);
            return Task.FromResult(true);
        }
    }

    public Task<bool> DeleteAsync(BudgetDefinition budget, AuditEntry audit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(budget);
        lock (_lock)
        {
            if (!_budgets.Remove(budget.BudgetId))
            {
                return Task.FromResult(false);
            }

            _audit.Add(audit);
            return Task.FromResult(true);
        }
    }

    public Task<IReadOnlyList<AuditEntry>> ListAuditAsync(string tenantId, int max, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<AuditEntry>>(_audit.Where(a => a.TenantId == tenantId).Reverse().Take(max).ToList());
        }
    }

    public async Task ExecuteAsync(LedgerCommand command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        var seeds = new Dictionary<string, RecordedSpend>(StringComparer.Ordinal);
        var lane = Interlocked.Increment(ref _lane) & int.MaxValue;
        while (true)
        {
            List<SeedRequest> requests;
            lock (_lock)
            {
                var now = time.GetUtcNow();
                var context = new LedgerContext(now, lane, laneCount);
                var loaded = new HashSet<string>(command.RequiredKeys(new LedgerPartition(command.TenantId), context), StringComparer.Ordinal);
                LedgerPartition partition;
                var round = 0;
                while (true)
                {
                    partition = new LedgerPartition(command.TenantId);
                    Load(partition, loaded);
                    foreach (var (key, seed) in seeds)
                    {
                        partition.Seeds[key] = seed;
                    }

                    command.Apply(partition, context);
                    if (partition.SeedRequests.Count > 0 || !partition.Incomplete)
                    {
                        break;
                    }

                    if (++round >= MaxRounds)
                    {
                        throw new InvalidOperationException("a budget command kept asking for more rows");
                    }

                    loaded.UnionWith(partition.Missing);
                    loaded.UnionWith(partition.NeedFresh);
                }

                requests = partition.SeedRequests.Values.ToList();
                if (requests.Count == 0)
                {
                    if (partition.Writes > LedgerLimits.MaxActionsPerTransaction && !command.Overflow(partition.Writes))
                    {
                        throw new BudgetUnavailableException($"a budget command needs {partition.Writes} rows, more than one transaction holds");
                    }

                    if (partition.Writes <= LedgerLimits.MaxActionsPerTransaction)
                    {
                        Commit(partition);
                    }

                    return;
                }
            }

            // Seeds come from the usage summaries: read outside the lock, then apply again.
            foreach (var request in requests)
            {
                seeds[request.StateKey] = history is null
                    ? RecordedSpend.None(time.GetUtcNow())
                    : await history.ReadAsync(command.TenantId, request.Budget.Scope, request.Subject, request.Window.Start, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public Task<LedgerPartition> ReadAsync(string tenantId, IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var partition = new LedgerPartition(tenantId);
            Load(partition, keys);
            return Task.FromResult(partition);
        }
    }

    public Task<IReadOnlyList<string>> ListReservationTenantsAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<string>>(_tenants.Order(StringComparer.Ordinal).ToList());
        }
    }

    public Task<IReadOnlyList<string>> ListDueReservationsAsync(string tenantId, DateTimeOffset now, int max, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var upper = BudgetKeys.Expiry(now, "\uffff");
            return Task.FromResult<IReadOnlyList<string>>(_expiries
                .Where(e => e.Tenant == tenantId && string.CompareOrdinal(e.Key, upper) <= 0)
                .Take(max)
                .Select(e => _reservationOfExpiry[e])
                .ToList());
        }
    }

    public Task<IReadOnlyList<FreezeRecord>> ListFreezesAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<FreezeRecord>>(_freezes.Where(f => f.Key.Tenant == tenantId).Select(f => f.Value).ToList());
        }
    }

    public Task<int> PruneAsync(string tenantId, DateTimeOffset markersAppliedBefore, DateTimeOffset reservationsCreatedBefore, int max, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var markers = _events.Where(e => e.Key.Tenant == tenantId && e.Value < markersAppliedBefore).Select(e => e.Key).Take(max).ToList();
            foreach (var key in markers)
            {
                _events.Remove(key);
            }

            var reservations = _reservations
                .Where(r => r.Key.Tenant == tenantId && r.Value.Status != ReservationStatus.Active && r.Value.CreatedAt < reservationsCreatedBefore)
                .Select(r => r.Key).Take(max - markers.Count).ToList();
            foreach (var key in reservations)
            {
                _reservations.Remove(key);
            }

            return Task.FromResult(markers.Count + reservations.Count);
        }
    }

    public Task<IReadOnlyList<ReservationRecord>> ListUserReservationsAsync(string tenantId, string userId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<ReservationRecord>>(_reservations
                .Where(r => r.Key.Tenant == tenantId && r.Value.UserId == userId).Select(r => r.Value).ToList());
        }
    }

    public Task<IReadOnlyDictionary<string, int>> DeleteUserRowsAsync(string tenantId, string userId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var states = _states.Where(s => s.Key.Tenant == tenantId && s.Value.Subject == userId).Select(s => s.Key).ToList();
            var stateKeys = states.Select(s => s.Key).ToHashSet(StringComparer.Ordinal);
            var lanes = _lanes.Where(l => l.Key.Tenant == tenantId && stateKeys.Contains(l.Value.StateKey)).Select(l => l.Key).ToList();
            var reservations = _reservations.Where(r => r.Key.Tenant == tenantId && r.Value.UserId == userId && r.Value.Status != ReservationStatus.Active).Select(r => r.Key).ToList();
            var freezes = _freezes.Where(f => f.Key.Tenant == tenantId && f.Value.Scope == BudgetScope.User && f.Value.ScopeId == userId).Select(f => f.Key).ToList();
            var alerts = _alerts.Where(a => a.Value.Alert.TenantId == tenantId && a.Value.Alert.Scope == BudgetNames.Of(BudgetScope.User) && a.Value.Alert.ScopeId == userId).Select(a => a.Key).ToList();
            states.ForEach(k => _states.Remove(k));
            lanes.ForEach(k => _lanes.Remove(k));
            reservations.ForEach(k => _reservations.Remove(k));
            freezes.ForEach(k => _freezes.Remove(k));
            alerts.ForEach(k => _alerts.Remove(k));
            return Task.FromResult<IReadOnlyDictionary<string, int>>(new Dictionary<string, int>(StringComparer.Ordinal)
            {
                ["states"] = states.Count,
                ["lanes"] = lanes.Count,
                ["reservations"] = reservations.Count,
                ["freezes"] = freezes.Count,
                ["alerts"] = alerts.Count,
            });
        }
    }

    public Task<IReadOnlyList<Alert>> ListPendingAsync(string? tenantId, int max, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<Alert>>(_alerts.Values
                .Where(a => !a.Dispatched && (tenantId is null || a.Alert.TenantId == tenantId))
                .OrderBy(a => a.Sequence).Take(max).Select(a => a.Alert).ToList());
        }
    }

    public Task MarkDispatchedAsync(IReadOnlyList<Alert> alerts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(alerts);
        lock (_lock)
        {
            foreach (var alert in alerts)
            {
                if (_alerts.TryGetValue(alert.AlertId, out var entry))
                {
                    _alerts[alert.AlertId] = entry with { Dispatched = true };
                }
            }
        }

        return Task.CompletedTask;
    }

    private void Load(LedgerPartition partition, IEnumerable<string> keys)
    {
        var tenant = partition.TenantId;
        foreach (var key in keys)
        {
            partition.Loaded.Add(key);
            partition.Fresh.Add(key);
            if (_states.TryGetValue((tenant, key), out var state))
            {
                partition.States[key] = state.Copy();
            }
            else if (_lanes.TryGetValue((tenant, key), out var lane))
            {
                partition.Lanes[key] = lane.Copy();
            }
            else if (_reservations.TryGetValue((tenant, key), out var reservation))
            {
                partition.Reservations[key] = reservation;
            }
            else if (_freezes.TryGetValue((tenant, key), out var freeze))
            {
                partition.Freezes[key] = freeze;
            }
            else if (_events.TryGetValue((tenant, key), out var applied))
            {
                partition.AppliedEvents[key] = applied;
            }
        }
    }

    private void Commit(LedgerPartition partition)
    {
        var tenant = partition.TenantId;
        foreach (var key in partition.Changed)
        {
            if (partition.States.TryGetValue(key, out var state))
            {
                _states[(tenant, key)] = state.Copy();
            }
            else if (partition.Lanes.TryGetValue(key, out var lane))
            {
                _lanes[(tenant, key)] = lane.Copy();
            }
            else if (partition.Reservations.TryGetValue(key, out var reservation))
            {
                _reservations[(tenant, key)] = reservation;
            }
            else if (partition.Freezes.TryGetValue(key, out var freeze))
            {
                _freezes[(tenant, key)] = freeze;
            }
            else
            {
                _freezes.Remove((tenant, key));
            }
        }

        foreach (var key in partition.Deleted)
        {
            _expiries.Remove((tenant, key));
            _reservationOfExpiry.Remove((tenant, key));
        }

        foreach (var (key, reservation) in partition.NewExpiries)
        {
            _expiries.Add((tenant, key));
            _reservationOfExpiry[(tenant, key)] = reservation.ReservationId;
            _tenants.Add(tenant);
        }

        foreach (var (key, applied) in partition.NewEventMarkers)
        {
            _events[(tenant, key)] = applied;
        }

        foreach (var alert in partition.NewAlerts.Values)
        {
            _alerts.TryAdd(alert.AlertId, (alert, false, ++_sequence));
        }

        _audit.AddRange(partition.NewAuditEntries);
    }
}
