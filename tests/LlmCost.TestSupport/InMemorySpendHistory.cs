using System.Collections.Concurrent;
using LlmCost.Core.Forecasting;

namespace LlmCost.Core.Budgets;

/// <summary>
/// Recorded daily spend in memory, for budget tests that isolate the ledger from the usage summaries: nothing
/// recorded before a budget existed (no seed) and the days a test adds for the forecaster.
/// </summary>
public sealed class InMemorySpendHistory(TimeProvider time) : IBudgetSpendHistory
{
    private readonly ConcurrentDictionary<(string Tenant, BudgetScope Scope, string Subject, DateOnly Day), RecordedDay> _days = new();

    public void Add(string tenantId, BudgetScope scope, string subject, DateOnly day, decimal costUsd, long tokens = 0) =>
        _days[(tenantId, scope, subject, day)] = new RecordedDay(day, costUsd, tokens);

    public Task<RecordedSpend> ReadAsync(string tenantId, BudgetScope scope, string subject, DateTimeOffset from, CancellationToken cancellationToken = default) =>
        Task.FromResult(RecordedSpend.None(time.GetUtcNow()));

    public Task<IReadOnlyList<RecordedDay>> ReadDailyAsync(
        string tenantId, BudgetScope scope, string subject, DateOnly fromDay, DateOnly toDay, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<RecordedDay>>([.. _days
            .Where(d => d.Key.Tenant == tenantId && d.Key.Scope == scope && d.Key.Subject == subject && d.Key.Day >= fromDay && d.Key.Day <= toDay)
            .Select(d => d.Value)
            .OrderBy(d => d.Day)]);

    /// <summary>The budgets' forecaster over this history.</summary>
    public BudgetForecaster Forecaster() => new(new SpendForecaster(time), this, time);
}
