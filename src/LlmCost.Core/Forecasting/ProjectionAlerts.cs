using System.Globalization;
using LlmCost.Core.Alerts;

namespace LlmCost.Core.Forecasting;

/// <summary>What the projection timer needs to know about one budget in its current period.</summary>
public sealed record BudgetForecastInput
{
    public required string TenantId { get; init; }
    public required string BudgetId { get; init; }

    /// <summary>"tenant" | "team" | "user" | "key".</summary>
    public required string Scope { get; init; }

    public required string ScopeId { get; init; }

    /// <summary>The budget's limit, in <see cref="Unit"/>.</summary>
    public required decimal Limit { get; init; }

    /// <summary>"usd" or "tokens": what the limit, the history and the figures of the alert count.</summary>
    public string Unit { get; init; } = "usd";

    /// <summary>What the forecaster is given: the period, its daily history and the ledger's total so far.</summary>
    public required ForecastRequest Request { get; init; }

    /// <summary>The alert's id when another path may raise the same alert (null: derived from budget and period).</summary>
    public string? AlertId { get; init; }
}

/// <summary>Budgets whose spend should be forecast (<see cref="BudgetForecastSource"/>).</summary>
public interface IBudgetForecastSource
{
    Task<IReadOnlyList<BudgetForecastInput>> ListActiveAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// "Projected to exceed": one alert per (budget, period), raised when the point forecast is above the limit and the
/// budget is not already exhausted (then the threshold alerts speak). The id is deterministic, so the timer can
/// re-evaluate every run without repeating itself.
/// </summary>
public sealed class ProjectionAlerter(SpendForecaster forecaster, TimeProvider timeProvider)
{
    public Alert? Evaluate(BudgetForecastInput budget)
    {
        ArgumentNullException.ThrowIfNull(budget);
        var forecast = forecaster.Forecast(budget.Request);
        if (!forecast.ProjectedToExceed(budget.Limit) || forecast.SpentToDate >= budget.Limit || forecast.Method == "closed")
        {
            return null;
        }

        var period = budget.Request.PeriodStart.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        var unit = budget.Unit == "usd" ? "USD" : budget.Unit;
        return new Alert
        {
            AlertId = budget.AlertId ?? AlertIds.For(AlertKinds.BudgetProjectedOverrun, budget.TenantId, budget.BudgetId, period),
            Kind = AlertKinds.BudgetProjectedOverrun,
            TenantId = budget.TenantId,
            Scope = budget.Scope,
            ScopeId = budget.ScopeId,
            BudgetId = budget.BudgetId,
            CreatedAt = timeProvider.GetUtcNow(),
            Message = string.Create(CultureInfo.InvariantCulture,
                $"budget {budget.BudgetId} is projected to reach {forecast.ProjectedTotal:0.00} {unit} of {budget.Limit} by {budget.Request.PeriodEnd:yyyy-MM-dd} (interval {forecast.Lower:0.00}–{forecast.Upper:0.00})"),
            Details = new Dictionary<string, string>
            {
                ["limit_" + budget.Unit] = budget.Limit.ToString(CultureInfo.InvariantCulture),
                ["spent_" + budget.Unit] = forecast.SpentToDate.ToString(CultureInfo.InvariantCulture),
                ["projected_" + budget.Unit] = forecast.ProjectedTotal.ToString(CultureInfo.InvariantCulture),
                ["lower_" + budget.Unit] = forecast.Lower.ToString(CultureInfo.InvariantCulture),
                ["upper_" + budget.Unit] = forecast.Upper.ToString(CultureInfo.InvariantCulture),
                ["method"] = forecast.Method,
                ["reaches_limit_on"] = forecast.ReachesOn(budget.Limit)?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) ?? string.Empty,
                ["period_start"] = budget.Request.PeriodStart.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                ["period_end"] = budget.Request.PeriodEnd.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            },
        };
    }
}
