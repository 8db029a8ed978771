using LlmCost.Core.Budgets;
using LlmCost.Core.Rollups;

namespace LlmCost.Core.Forecasting;

/// <summary>
/// The budgets the projection timer forecasts, each with the request <see cref="BudgetForecaster"/> builds for the
/// status API (the subject's recorded daily spend and the ledger's total for the period): every USD or token budget
/// of a tenant, team, user or API key that asks for projected-overrun alerts and has a current period. Left out:
/// per-request limits (no running total) and budgets every user inherits (one forecast per user would be a scan of
/// every user; their status still shows each user's forecast).
/// </summary>
/// <remarks>
/// The alert id is the budget period's (the ledger's alert key "projected"), so one budget period raises one
/// "projected to exceed" alert however often the timer re-evaluates it.
/// </remarks>
public sealed class BudgetForecastSource(IRollupStore tenants, IBudgetRepository budgets, IBudgetLedger ledger, BudgetForecaster forecaster, TimeProvider time)
    : IBudgetForecastSource
{
    public async Task<IReadOnlyList<BudgetForecastInput>> ListActiveAsync(CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        var inputs = new List<BudgetForecastInput>();
        foreach (var tenantId in await tenants.ListTenantsAsync(cancellationToken).ConfigureAwait(false))
        {
            var active = new List<(BudgetDefinition Budget, PeriodWindow Window, string StateKey)>();
            foreach (var budget in await budgets.ListAsync(tenantId, cancellationToken).ConfigureAwait(false))
            {
                if (Forecastable(budget) && BudgetPeriodCalculator.WindowFor(budget, now) is { } window)
                {
                    active.Add((budget, window, BudgetKeys.State(budget.BudgetId, budget.ScopeId, window.Key)));
                }
            }

            if (active.Count == 0)
            {
                continue;
            }

            // One read of the tenant's period states: the spend so far of every budget forecast.
            var states = (await ledger.ReadAsync(tenantId, [.. active.Select(a => a.StateKey)], cancellationToken).ConfigureAwait(false)).States;
            foreach (var (budget, window, stateKey) in active)
            {
                var spent = states.GetValueOrDefault(stateKey)?.Spent(budget) ?? 0m;
                var request = await forecaster.RequestAsync(budget, budget.ScopeId, window, spent, cancellationToken).ConfigureAwait(false);
                inputs.Add(new BudgetForecastInput
                {
                    TenantId = budget.TenantId,
                    BudgetId = budget.BudgetId,
                    Scope = BudgetNames.Of(budget.Scope),
                    ScopeId = budget.ScopeId,
                    Limit = BudgetUnits.Limit(budget),
                    Unit = budget.IsUsd ? "usd" : "tokens",
                    Request = request!,
                    AlertId = $"budget:{budget.BudgetId}:{budget.ScopeId}:{window.Key}:{BudgetAlerts.ProjectedKey}",
                });
            }
        }

        return inputs;
    }

    private static bool Forecastable(BudgetDefinition budget) =>
        budget is { IsStateful: true, AlertOnProjectedOverrun: true, AppliesToEveryUser: false }
        && BudgetUnits.Limit(budget) > 0m;
}
