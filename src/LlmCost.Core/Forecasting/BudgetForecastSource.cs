using LlmCost.Core.Budgets;
using LlmCost.Core.Recording;
using LlmCost.Core.Rollups;

namespace LlmCost.Core.Forecasting;

/// <summary>
/// The budgets the projection timer forecasts, with their scope's recorded daily spend: every USD budget of a
/// tenant, team or user that asks for projected-overrun alerts and has a current period, with 28 days of history
/// before the period (live summaries, archived days from the rollups). Budgets it cannot forecast from recorded
/// usage are left out: per-request limits (no running total), token budgets, budgets per API key (usage is not kept
/// per key) and budgets every user inherits (one forecast per user would be a scan of every user).
/// </summary>
/// <remarks>
/// The alert id is the one the budget ledger gives its own projection for the same period, so whichever raises it
/// first, the tenant sees one "projected to exceed" alert per budget period.
/// </remarks>
public sealed class BudgetForecastSource(IRollupStore tenants, IBudgetRepository budgets, UsageQueryService usage, TimeProvider time) : IBudgetForecastSource
{
    /// <summary>Days of history before the period: four whole weeks, what the forecaster trains on.</summary>
    public const int HistoryDays = 28;

    public async Task<IReadOnlyList<BudgetForecastInput>> ListActiveAsync(CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        var inputs = new List<BudgetForecastInput>();
        foreach (var tenantId in await tenants.ListTenantsAsync(cancellationToken).ConfigureAwait(false))
        {
            foreach (var budget in await budgets.ListAsync(tenantId, cancellationToken).ConfigureAwait(false))
            {
                if (!Forecastable(budget) || BudgetPeriodCalculator.WindowFor(budget, now) is not { } window)
                {
                    continue;
                }

                var periodStart = DateOnly.FromDateTime(window.Start.UtcDateTime);
                var periodEnd = DateOnly.FromDateTime(window.End.UtcDateTime.AddTicks(-1)).AddDays(1);
                var from = new DateTimeOffset(periodStart.AddDays(-HistoryDays).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
                var to = new DateTimeOffset(DateOnly.FromDateTime(now.UtcDateTime).AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
                var result = await usage.QueryAsync(Scope(budget), from, to, UsageGranularity.Day, UsageGroupBy.None, cancellationToken).ConfigureAwait(false);
                inputs.Add(new BudgetForecastInput
                {
                    TenantId = budget.TenantId,
                    BudgetId = budget.BudgetId,
                    Scope = budget.Scope.ToString().ToLowerInvariant(),
                    ScopeId = budget.ScopeId,
                    LimitUsd = budget.AmountUsd!.Value,
                    PeriodStart = periodStart,
                    PeriodEnd = periodEnd,
                    History = result.Report.Series.Select(p => new DailySpend(DateOnly.FromDateTime(p.PeriodStart.UtcDateTime), p.Totals.CostUsd)).ToList(),
                    AlertId = $"budget:{budget.BudgetId}:{budget.ScopeId}:{window.Key}:{BudgetAlerts.ProjectedKey}",
                });
            }
        }

        return inputs;
    }

    private static bool Forecastable(BudgetDefinition budget) =>
        budget is { IsUsd: true, IsStateful: true, AlertOnProjectedOverrun: true, AppliesToEveryUser: false, AmountUsd: > 0m }
        && budget.Scope is BudgetScope.Tenant or BudgetScope.Team or BudgetScope.User;

    private static UsageScope Scope(BudgetDefinition budget) => budget.Scope switch
    {
        BudgetScope.User => UsageScope.User(budget.TenantId, budget.ScopeId),
        BudgetScope.Team => UsageScope.Team(budget.TenantId, budget.ScopeId),
        _ => UsageScope.Tenant(budget.TenantId),
    };
}
