using System.Collections.Concurrent;
using LlmCost.Core.Budgets;

namespace LlmCost.Core.Forecasting;

/// <summary>
/// A budget's end-of-period projection, with its interval and the day it reaches the limit: the one
/// <see cref="SpendForecaster"/> fed with the subject's recorded daily spend (28 days before the period and the
/// complete days of it, from the usage summaries) and the ledger's own total for the period so far. The status API
/// and the projection timer both ask here, so the forecast shown and the alert raised agree.
/// </summary>
/// <remarks>
/// The ledger total, not the summaries, is what the period has spent: it counts spend under an API key (usage is
/// not kept per key, so a key budget has no daily history and is projected at its period's run rate), a seed, and a
/// period that starts inside a UTC day. Complete days do not change once past, so their history is kept for a few
/// minutes per subject and day: a dashboard showing every budget does not re-read weeks of summaries per view.
/// </remarks>
public sealed class BudgetForecaster(SpendForecaster forecaster, IBudgetSpendHistory history, TimeProvider time)
{
    /// <summary>Days of history before the period: four whole weeks, what the forecaster trains on.</summary>
    public const int HistoryDays = 28;

    private const int MaxCachedSubjects = 4_096;
    private static readonly TimeSpan s_cacheFor = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<(string Tenant, BudgetScope Scope, string Subject, DateOnly From, DateOnly Today), (DateTimeOffset ReadAt, IReadOnlyList<RecordedDay> Days)> _history = new();

    /// <summary>The projection of <paramref name="budget"/>'s period <paramref name="window"/> for <paramref name="subject"/>; null for a per-request budget.</summary>
    public async Task<SpendForecast?> ForecastAsync(
        BudgetDefinition budget, string subject, PeriodWindow window, decimal spentInPeriod, CancellationToken cancellationToken = default)
    {
        var request = await RequestAsync(budget, subject, window, spentInPeriod, cancellationToken).ConfigureAwait(false);
        return request is null ? null : forecaster.Forecast(request);
    }

    /// <summary>What the forecaster is given for this budget period (in the budget's unit: USD or tokens).</summary>
    public async Task<ForecastRequest?> RequestAsync(
        BudgetDefinition budget, string subject, PeriodWindow window, decimal spentInPeriod, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(budget);
        if (!budget.IsStateful)
        {
            return null;
        }

        var periodStart = DateOnly.FromDateTime(window.Start.UtcDateTime);
        var periodEnd = DateOnly.FromDateTime(window.End.UtcDateTime.AddTicks(-1)).AddDays(1);
        var days = await CompleteDaysAsync(budget, subject, periodStart.AddDays(-HistoryDays), cancellationToken).ConfigureAwait(false);
        return new ForecastRequest
        {
            PeriodStart = periodStart,
            PeriodEnd = periodEnd,
            StartsAt = window.Start,
            EndsAt = window.End,
            SpentInPeriod = spentInPeriod,
            History = [.. days.Select(d => new DailySpend(d.Day, budget.IsUsd ? d.CostUsd : d.Tokens))],
        };
    }

    private async Task<IReadOnlyList<RecordedDay>> CompleteDaysAsync(BudgetDefinition budget, string subject, DateOnly from, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        if (budget.Scope == BudgetScope.Key || from >= today)
        {
            return [];
        }

        var key = (budget.TenantId, budget.Scope, subject, from, today);
        if (_history.TryGetValue(key, out var cached) && now - cached.ReadAt < s_cacheFor)
        {
            return cached.Days;
        }

        var days = await history.ReadDailyAsync(budget.TenantId, budget.Scope, subject, from, today.AddDays(-1), cancellationToken).ConfigureAwait(false);
        if (_history.Count >= MaxCachedSubjects)
        {
            _history.Clear();
        }

        _history[key] = (now, days);
        return days;
    }
}
