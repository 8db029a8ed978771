using LlmCost.Core.Alerts;
using LlmCost.Core.Audit;

namespace LlmCost.Core.Budgets;

/// <summary>
/// The budget ports in memory (one lock = one serialised writer): the reference the Table Storage adapter is
/// tested against, and what the benchmark uses to measure in-process overhead without storage round trips.
/// </summary>
public sealed class InMemoryBudgetStore(TimeProvider time, IBudgetSpendForecaster forecaster) : IBudgetRepository, IBudgetLedger, IPendingAlertSource
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, BudgetDefinition> _budgets = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Tenant, string Key), BudgetPeriodState> _states = [];
    private readonly Dictionary<(string Tenant, string Key), ReservationRecord> _reservations = [];
    private readonly Dictionary<(string Tenant, string Key), FreezeRecord> _freezes = [];
    private readonly HashSet<(string Tenant, string Key)> _events = [];
    private readonly Dictionary<string, (Alert Alert, bool Dispatched, long Sequence)> _alerts = new(StringComparer.Ordinal);
    private readonly List<AuditEntry> _audit = [];
    private long _sequence;

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

    public Task ExecuteAsync(LedgerCommand command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        lock (_lock)
        {
            var now = time.GetUtcNow();
            var partition = new LedgerPartition(command.TenantId);
            LoadRequired(partition, [command], now);
            command.Apply(partition, new LedgerContext(now, forecaster));
            Commit(partition);
        }

        return Task.CompletedTask;
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

    public Task<IReadOnlyList<ReservationRecord>> ListExpiredReservationsAsync(DateTimeOffset now, int max, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<ReservationRecord>>(_reservations.Values
                .Where(r => r.Status == ReservationStatus.Active && r.ExpiresAt <= now).Take(max).ToList());
        }
    }

    public Task<IReadOnlyList<FreezeRecord>> ListFreezesAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<FreezeRecord>>(_freezes.Where(f => f.Key.Tenant == tenantId).Select(f => f.Value).ToList());
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

    private void LoadRequired(LedgerPartition partition, IReadOnlyList<LedgerCommand> commands, DateTimeOffset now)
    {
        // Commands may need more keys once they see what they loaded (a reservation names its states).
        for (var round = 0; round < 3; round++)
        {
            var missing = commands.SelectMany(c => c.RequiredKeys(partition, now)).Where(k => !partition.Loaded.Contains(k)).Distinct().ToList();
            if (missing.Count == 0)
            {
                return;
            }

            Load(partition, missing);
        }
    }

    private void Load(LedgerPartition partition, IEnumerable<string> keys)
    {
        var tenant = partition.TenantId;
        foreach (var key in keys)
        {
            partition.Loaded.Add(key);
            if (_states.TryGetValue((tenant, key), out var state))
            {
                partition.States[key] = state.Copy();
            }
            else if (_reservations.TryGetValue((tenant, key), out var reservation))
            {
                partition.Reservations[key] = reservation;
            }
            else if (_freezes.TryGetValue((tenant, key), out var freeze))
            {
                partition.Freezes[key] = freeze;
            }
            else if (_events.Contains((tenant, key)))
            {
                partition.AppliedEvents.Add(key);
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

        foreach (var key in partition.NewEventMarkers)
        {
            _events.Add((tenant, key));
        }

        foreach (var alert in partition.NewAlerts.Values)
        {
            _alerts.TryAdd(alert.AlertId, (alert, false, ++_sequence));
        }

        _audit.AddRange(partition.NewAuditEntries);
    }
}
