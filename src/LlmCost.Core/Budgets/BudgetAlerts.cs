using System.Globalization;
using LlmCost.Core.Alerts;

namespace LlmCost.Core.Budgets;

/// <summary>
/// Threshold, overspend and circuit-breaker alerts of one budget period. Each alert key is recorded in the period
/// state that the same write updates, so an alert fires exactly once per (budget, subject, period, threshold) and
/// only together with the spend that crossed it; its id is deterministic so a re-delivery is recognisable.
/// "Projected to exceed" is not decided here: a projection needs the subject's daily history, which the ledger's
/// write does not have; the projection timer raises it (<c>Forecasting.BudgetForecastSource</c>) under the
/// <see cref="ProjectedKey"/> id of the same period.
/// </summary>
public static class BudgetAlerts
{
    public const string ProjectedKey = "projected";
    public const string BreakerKey = "breaker";
    public const string OverspendKey = "overspend";

    public static string AlertId(BudgetPeriodState state, string alertKey)
    {
        ArgumentNullException.ThrowIfNull(state);
        return $"budget:{state.BudgetId}:{state.Subject}:{state.Window.Key}:{alertKey}";
    }

    public static string ThresholdKey(decimal percent) => percent.ToString("0.####", CultureInfo.InvariantCulture);

    /// <summary>Alerts newly crossed by the spend now in <paramref name="state"/>; marks them fired in the state.</summary>
    public static IReadOnlyList<Alert> Evaluate(
        BudgetDefinition budget,
        BudgetPeriodState state,
        DateTimeOffset now,
        bool breakerTripped = false,
        decimal overcommitted = 0m)
    {
        ArgumentNullException.ThrowIfNull(budget);
        ArgumentNullException.ThrowIfNull(state);
        var alerts = new List<Alert>();
        decimal limit = budget.AmountUsd ?? budget.TokenLimit ?? 0m;
        decimal spent = budget.IsUsd ? state.SpentUsd : state.SpentTokens;
        if (limit > 0m)
        {
            var percent = spent * 100m / limit;
            foreach (var threshold in budget.ThresholdPercents.Order())
            {
                var key = ThresholdKey(threshold);
                if (percent >= threshold && state.MarkFired(key))
                {
                    alerts.Add(Create(budget, state, AlertKinds.BudgetThreshold, key, now, threshold,
                        $"budget '{budget.BudgetId}' reached {key}% of its {BudgetNames.Of(budget.Period)} limit"));
                }
            }

            // An enforced budget never admits more than its limit, so spend (plus what is still reserved) beyond it
            // came from a settlement after its reservation closed or a call costing more than its worst case:
            // recorded with the spend that caused it, never silent.
            if (budget.Mode != BudgetMode.Soft && (spent > limit || overcommitted > 0m) && state.MarkFired(OverspendKey))
            {
                alerts.Add(Create(budget, state, AlertKinds.BudgetOverspend, OverspendKey, now, null,
                    $"budget '{budget.BudgetId}' is overspent: actual spend plus open reservations exceed its limit {limit.ToString(CultureInfo.InvariantCulture)}",
                    ("overspent", Math.Max(0m, spent - limit).ToString(CultureInfo.InvariantCulture)),
                    ("overcommitted", Math.Max(overcommitted, spent - limit).ToString(CultureInfo.InvariantCulture)),
                    ("late_settlements", state.LateSettlements.ToString(CultureInfo.InvariantCulture))));
            }

        }

        var breakerKey = BreakerKey + ":" + state.BreakerWindowStart?.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        if (breakerTripped && state.MarkFired(breakerKey))
        {
            alerts.Add(Create(budget, state, AlertKinds.CircuitBreaker, breakerKey, now, null,
                $"circuit breaker of budget '{budget.BudgetId}' tripped: spend in a short window exceeded {budget.CircuitBreaker?.Multiple}x normal",
                ("window_spent_usd", state.BreakerWindowSpentUsd.ToString(CultureInfo.InvariantCulture)),
                ("tripped_until", state.TrippedUntil?.ToString("O", CultureInfo.InvariantCulture) ?? string.Empty)));
        }

        return alerts;
    }

    private static Alert Create(
        BudgetDefinition budget,
        BudgetPeriodState state,
        string kind,
        string key,
        DateTimeOffset now,
        decimal? threshold,
        string message,
        params (string Key, string Value)[] extra)
    {
        var details = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["period_start"] = state.Window.Start.ToString("O", CultureInfo.InvariantCulture),
            ["period_end"] = state.Window.End.ToString("O", CultureInfo.InvariantCulture),
            ["spent_usd"] = state.SpentUsd.ToString(CultureInfo.InvariantCulture),
            ["spent_tokens"] = state.SpentTokens.ToString(CultureInfo.InvariantCulture),
        };
        if (budget.AmountUsd is { } amount)
        {
            details["limit_usd"] = amount.ToString(CultureInfo.InvariantCulture);
        }

        if (budget.TokenLimit is { } tokens)
        {
            details["token_limit"] = tokens.ToString(CultureInfo.InvariantCulture);
        }

        foreach (var (k, v) in extra)
        {
            details[k] = v;
        }

        return new Alert
        {
            AlertId = AlertId(state, key),
            Kind = kind,
            TenantId = budget.TenantId,
            Scope = BudgetNames.Of(budget.Scope),
            ScopeId = state.Subject,
            CreatedAt = now,
            BudgetId = budget.BudgetId,
            ThresholdPercent = threshold,
            Message = message,
            Details = details,
        };
    }
}
